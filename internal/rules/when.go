package rules

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/internal/call"
	"github.com/ringside/ringside/internal/crm"
)

// Values of when.match.
const (
	MatchMatched   = "matched"   // the CRM knows the caller (one record or more)
	MatchUnmatched = "unmatched" // looked up, nobody found
	MatchSeveral   = "several"   // two records or more
	MatchWithheld  = "withheld"  // no number to look up
)

// Values of when.window.
const (
	WindowInside  = "inside"
	WindowOutside = "outside"
)

// When holds a rule's conditions; every one given must hold (an empty When always holds).
// Lists hold when any of their entries does.
type When struct {
	Match      string   `json:"match,omitempty" yaml:"match"`
	Entity     []string `json:"entity,omitempty" yaml:"entity"`
	Users      []string `json:"users,omitempty" yaml:"users"`
	Groups     []string `json:"groups,omitempty" yaml:"groups"`
	Extensions []string `json:"extensions,omitempty" yaml:"extensions"`
	DID        []string `json:"did,omitempty" yaml:"did"`
	Number     []string `json:"number,omitempty" yaml:"number"`
	Days       []string `json:"days,omitempty" yaml:"days"`
	Hours      []string `json:"hours,omitempty" yaml:"hours"`
	Window     string   `json:"window,omitempty" yaml:"window"`
	TimeZone   string   `json:"time_zone,omitempty" yaml:"time_zone"`

	days  [7]bool
	spans [][2]int // minutes since midnight, [from, to)
	loc   *time.Location
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (w *When) compile(groups map[string][]string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch w.Match {
	case "", MatchMatched, MatchUnmatched, MatchSeveral, MatchWithheld:
	default:
		bad("match: %q is not matched, unmatched, several or withheld", w.Match)
	}
	if len(w.Entity) > 0 && (w.Match == MatchUnmatched || w.Match == MatchWithheld) {
		bad("entity: never holds together with match: %s (there is no record)", w.Match)
	}
	for _, en := range w.Entity {
		if !crm.Entity(en).Valid() {
			bad("entity: %q is not contact, account or lead", en)
		}
	}
	for _, g := range w.Groups {
		if _, ok := groups[g]; !ok {
			bad("groups: no group %q (declare it under rules.groups)", g)
		}
	}
	for i, p := range w.DID {
		w.DID[i] = normNumber(p)
		if _, err := path.Match(w.DID[i], ""); err != nil {
			bad("did: bad pattern %q", p)
		}
	}
	for i, p := range w.Number {
		w.Number[i] = normNumber(p)
		if _, err := path.Match(w.Number[i], ""); err != nil {
			bad("number: bad pattern %q", p)
		}
	}
	for _, d := range w.Days {
		from, to, isRange := strings.Cut(strings.ToLower(strings.TrimSpace(d)), "-")
		a, b := slices.Index(weekdays, from), slices.Index(weekdays, to)
		if !isRange {
			b = a
		}
		if a < 0 || b < 0 {
			bad("days: %q is not a weekday (mon, tue, … sun) or a range (mon-fri)", d)
			continue
		}
		for i := a; ; i = (i + 1) % 7 {
			w.days[i] = true
			if i == b {
				break
			}
		}
	}
	for _, h := range w.Hours {
		from, to, ok := strings.Cut(h, "-")
		a, ea := hhmm(from)
		b, eb := hhmm(to)
		if !ok || ea != nil || eb != nil || a == b {
			bad("hours: %q is not a span such as 08:00-18:00", h)
			continue
		}
		w.spans = append(w.spans, [2]int{a, b})
	}
	switch w.Window {
	case "":
		if len(w.Days) > 0 || len(w.Hours) > 0 {
			w.Window = WindowInside
		}
	case WindowInside, WindowOutside:
		if len(w.Days) == 0 && len(w.Hours) == 0 {
			bad("window: needs days or hours")
		}
	default:
		bad("window: %q is not inside or outside", w.Window)
	}
	w.loc = time.Local
	if w.TimeZone != "" {
		loc, err := time.LoadLocation(w.TimeZone)
		if err != nil {
			bad("time_zone: unknown time zone %q (use an IANA name such as Europe/Berlin)", w.TimeZone)
		} else {
			w.loc = loc
		}
	}
	return errs
}

func hhmm(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hi, e1 := strconv.Atoi(h)
	mi, e2 := strconv.Atoi(m)
	if !ok || e1 != nil || e2 != nil || hi < 0 || hi > 24 || mi < 0 || mi > 59 || (hi == 24 && mi != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hi*60 + mi, nil
}

// normNumber drops what people put into numbers for readability.
func normNumber(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '/', '(', ')', '.':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

func (w *When) usesUsers() bool { return len(w.Users) > 0 || len(w.Groups) > 0 }

// prepared is what conditions compare, computed once per evaluation.
type prepared struct {
	did, raw string
}

func prepare(in *Input) prepared {
	return prepared{did: normNumber(in.Call.DID), raw: normNumber(in.Call.Remote.Raw)}
}

// matches reports whether every condition holds for in.
func (w *When) matches(in *Input, pr *prepared, groups map[string][]string) bool {
	switch w.Match {
	case MatchMatched:
		if len(in.Matches) == 0 {
			return false
		}
	case MatchSeveral:
		if len(in.Matches) < 2 {
			return false
		}
	case MatchUnmatched:
		if len(in.Matches) > 0 || in.Lookup != "done" {
			return false
		}
	case MatchWithheld:
		if !in.Call.Remote.Withheld && in.Lookup != "skipped" {
			return false
		}
	}
	if len(w.Entity) > 0 && (len(in.Matches) == 0 || !slices.Contains(w.Entity, string(in.Matches[0].Entity))) {
		return false
	}
	if len(w.Users) > 0 && !anyIn(in.Users, w.Users) {
		return false
	}
	if len(w.Groups) > 0 {
		ok := false
		for _, g := range w.Groups {
			ok = ok || anyIn(in.Users, groups[g])
		}
		if !ok {
			return false
		}
	}
	if len(w.Extensions) > 0 && !anyIn(extensionsOf(in), w.Extensions) {
		return false
	}
	if len(w.DID) > 0 && !globAny(w.DID, pr.did) {
		return false
	}
	if len(w.Number) > 0 && !globAny(w.Number, in.Call.Remote.Number) && !globAny(w.Number, pr.raw) {
		return false
	}
	if w.Window != "" && w.inWindow(in.Time) != (w.Window == WindowInside) {
		return false
	}
	return true
}

// inWindow reports whether t falls on one of the days and into one of the hours.
func (w *When) inWindow(t time.Time) bool {
	t = t.In(w.loc)
	if len(w.Days) > 0 && !w.days[t.Weekday()] {
		return false
	}
	if len(w.spans) == 0 {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	for _, s := range w.spans {
		if s[0] < s[1] && m >= s[0] && m < s[1] {
			return true
		}
		if s[0] > s[1] && (m >= s[0] || m < s[1]) { // over midnight: 22:00-06:00
			return true
		}
	}
	return false
}

// extensionsOf returns the extensions an event concerns: its leg's, else the answering
// one's, else every leg's.
func extensionsOf(in *Input) []string {
	if in.Leg != nil {
		return []string{in.Leg.Extension}
	}
	if in.Call.AnsweredBy != "" {
		return []string{in.Call.AnsweredBy}
	}
	var out []string
	for _, l := range in.Call.Legs {
		out = append(out, l.Extension)
	}
	return out
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

func globAny(patterns []string, s string) bool {
	if s == "" {
		return false
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// weakerThan reports whether w holds whenever o holds: every condition w sets, o sets
// identically (a sound, simple approximation for finding unreachable rules).
func (w When) weakerThan(o When) bool {
	pairs := [][2]any{
		{w.Match, o.Match}, {w.Entity, o.Entity}, {w.Users, o.Users}, {w.Groups, o.Groups},
		{w.Extensions, o.Extensions}, {w.DID, o.DID}, {w.Number, o.Number}, {w.Days, o.Days},
		{w.Hours, o.Hours}, {w.Window, o.Window},
	}
	for _, p := range pairs {
		if reflect.ValueOf(p[0]).IsZero() {
			continue
		}
		if !reflect.DeepEqual(p[0], p[1]) {
			return false
		}
	}
	if w.Window != "" && w.TimeZone != o.TimeZone {
		return false
	}
	return true
}

// callOf is a small helper for tests and defaults.
func directionOf(c call.Call) string {
	if c.Direction == "" {
		return string(call.Inbound)
	}
	return string(c.Direction)
}
