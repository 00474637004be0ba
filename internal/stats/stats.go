// Package stats computes call statistics from the journal: for a range, per day or
// hour, per agent and per called number (DID): calls in and out, answered, missed,
// missed and not called back, time to answer (average and 90th percentile) and talk
// time. It renders them as CSV and as an inline SVG chart drawn here (no library).
package stats

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ringside/ringside/internal/store"
)

// Source is the journal (store.Store).
type Source interface {
	StatCalls(ctx context.Context, from, to time.Time, fn func(store.StatCall) error) error
}

// Step is the width of a bucket.
type Step string

// Steps.
const (
	Day  Step = "day"
	Hour Step = "hour"
)

// MaxBuckets bounds a report (a year by the hour is 8,784).
const MaxBuckets = 10000

// Options choose a report.
type Options struct {
	From, To time.Time      // the calls started in [From, To)
	Step     Step           // day (default) or hour
	Loc      *time.Location // where days begin; default UTC
}

// Figures are the numbers of one bucket, agent or DID.
type Figures struct {
	CallsIn             int `json:"calls_in"`
	CallsOut            int `json:"calls_out"`
	Answered            int `json:"answered"` // inbound calls answered
	Missed              int `json:"missed"`   // inbound calls nobody answered
	MissedNotCalledBack int `json:"missed_not_called_back"`
	// AnswerAvg and AnswerP90 are the time from ringing to answer of the answered
	// inbound calls, in seconds; Talk is the time talked (both directions), in seconds.
	AnswerAvg float64 `json:"answer_avg_s"`
	AnswerP90 float64 `json:"answer_p90_s"`
	Talk      float64 `json:"talk_s"`

	waits []time.Duration
	talk  time.Duration
}

// A Bucket is one day or hour.
type Bucket struct {
	Start time.Time `json:"start"`
	Figures
}

// A Row is one agent or DID.
type Row struct {
	Key string `json:"key"`
	Figures
}

// Report is the statistics of a range.
type Report struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Step    Step      `json:"step"`
	Total   Figures   `json:"total"`
	Buckets []Bucket  `json:"buckets"`
	Agents  []Row     `json:"agents"`
	DIDs    []Row     `json:"dids"`
}

// Compute reads the journal of the range and adds it up.
func Compute(ctx context.Context, src Source, o Options) (Report, error) {
	if o.Step == "" {
		o.Step = Day
	}
	if o.Step != Day && o.Step != Hour {
		return Report{}, fmt.Errorf("stats: step %q is not day or hour", o.Step)
	}
	if o.Loc == nil {
		o.Loc = time.UTC
	}
	if !o.From.Before(o.To) {
		return Report{}, fmt.Errorf("stats: from (%s) must be before to (%s)", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	start := truncate(o.From.In(o.Loc), o.Step)
	r := Report{From: o.From, To: o.To, Step: o.Step}
	index := map[time.Time]int{}
	for t := start; t.Before(o.To); t = next(t, o.Step) {
		if len(r.Buckets) >= MaxBuckets {
			return Report{}, fmt.Errorf("stats: the range has more than %d %ss; choose a shorter range or a day step", MaxBuckets, o.Step)
		}
		index[t] = len(r.Buckets)
		r.Buckets = append(r.Buckets, Bucket{Start: t})
	}
	dids := map[string]*Figures{}
	agents := map[string]*Figures{}
	var who []string
	err := src.StatCalls(ctx, o.From, o.To, func(c store.StatCall) error {
		b := &r.Buckets[index[truncate(c.Started.In(o.Loc), o.Step)]].Figures
		notBack := c.Missed && !c.CalledBack
		figs := []*Figures{&r.Total, b}
		if c.Direction == "inbound" {
			figs = append(figs, figure(dids, c.DID))
		}
		for _, f := range figs {
			f.add(c.Direction, c.Started, c.Answered, c.Ended, c.Missed, notBack)
		}
		// Per agent: a call counts once for each user it rang (a user with two
		// extensions on it counts once); answer and talk only for who answered.
		who = who[:0]
		for _, l := range c.Legs {
			name := cmp.Or(l.User, l.Extension)
			if slices.Contains(who, name) {
				continue
			}
			who = append(who, name)
			answered := c.Answered
			if !slices.ContainsFunc(c.Legs, func(m store.StatLeg) bool { return cmp.Or(m.User, m.Extension) == name && m.Extension == c.AnsweredBy }) {
				answered = time.Time{} // answered, but not by this agent
			}
			figure(agents, name).add(c.Direction, c.Started, answered, c.Ended, c.Missed, notBack)
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	r.Total.finish()
	for i := range r.Buckets {
		r.Buckets[i].finish()
	}
	r.Agents, r.DIDs = rows(agents), rows(dids)
	return r, nil
}

// figure returns m[k], made when missing.
func figure(m map[string]*Figures, k string) *Figures {
	f := m[k]
	if f == nil {
		f = &Figures{}
		m[k] = f
	}
	return f
}

func (f *Figures) add(dir string, started, answered, ended time.Time, missed, notCalledBack bool) {
	switch dir {
	case "inbound":
		f.CallsIn++
		if !answered.IsZero() {
			f.Answered++
			f.waits = append(f.waits, answered.Sub(started))
		}
		if missed {
			f.Missed++
			if notCalledBack {
				f.MissedNotCalledBack++
			}
		}
	case "outbound":
		f.CallsOut++
	default:
		return
	}
	if !answered.IsZero() && ended.After(answered) {
		f.talk += ended.Sub(answered)
	}
}

func (f *Figures) finish() {
	f.Talk = f.talk.Seconds()
	if len(f.waits) == 0 {
		return
	}
	var sum time.Duration
	for _, w := range f.waits {
		sum += w
	}
	f.AnswerAvg = (sum / time.Duration(len(f.waits))).Seconds()
	slices.Sort(f.waits)
	// The nearest rank: the smallest wait that at least 90% of the calls did not exceed.
	rank := (len(f.waits)*9 + 9) / 10
	f.AnswerP90 = f.waits[rank-1].Seconds()
	f.waits = nil
}

func rows(m map[string]*Figures) []Row {
	out := make([]Row, 0, len(m))
	for k, f := range m {
		f.finish()
		out = append(out, Row{Key: k, Figures: *f})
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.CallsIn+b.CallsOut, a.CallsIn+a.CallsOut), cmp.Compare(a.Key, b.Key))
	})
	return out
}

func truncate(t time.Time, s Step) time.Time {
	if s == Hour {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, t.Location())
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

func next(t time.Time, s Step) time.Time {
	if s == Hour {
		return t.Add(time.Hour)
	}
	return t.AddDate(0, 0, 1)
}
