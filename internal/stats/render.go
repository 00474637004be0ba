package stats

import (
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"
)

// csvHeader names the CSV columns (English; they are data, not page text).
var csvHeader = []string{"section", "key", "calls_in", "calls_out", "answered", "missed", "missed_not_called_back", "answer_avg_s", "answer_p90_s", "talk_s"}

// WriteCSV writes the report as CSV: the total, then one line per bucket (key: its
// start, RFC 3339), agent and DID.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	line := func(section, key string, f Figures) {
		cw.Write([]string{section, safeCell(key), strconv.Itoa(f.CallsIn), strconv.Itoa(f.CallsOut), strconv.Itoa(f.Answered),
			strconv.Itoa(f.Missed), strconv.Itoa(f.MissedNotCalledBack), secs(f.AnswerAvg), secs(f.AnswerP90), secs(f.Talk)})
	}
	cw.Write(csvHeader)
	line("total", r.From.Format(time.RFC3339)+"/"+r.To.Format(time.RFC3339), r.Total)
	for _, b := range r.Buckets {
		line(string(r.Step), b.Start.Format(time.RFC3339), b.Figures)
	}
	for _, a := range r.Agents {
		line("agent", a.Key, a.Figures)
	}
	for _, d := range r.DIDs {
		line("did", d.Key, d.Figures)
	}
	cw.Flush()
	return cw.Error()
}

func secs(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// safeCell keeps a spreadsheet from reading a cell as a formula (names come from the
// phone system and the users).
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) && !isNumber(s) {
		return "'" + s
	}
	return s
}

func isNumber(s string) bool {
	for i, c := range s {
		if !(c >= '0' && c <= '9' || i == 0 && c == '+') {
			return false
		}
	}
	return len(s) > 1
}

// Labels are the chart's words, from the page's catalogue.
type Labels struct {
	Title, Answered, Missed, Outbound string
}

// chartColours are the bars' colours as presentation attributes, so that the chart reads
// the same as an <img> (no page styles) and inline (a page's CSS classes win); they meet
// WCAG's 3:1 for graphics on white.
var chartColours = map[string]string{"answered": "#17703a", "missed": "#b3261e", "outbound": "#0a58a6"}

// SVG draws the buckets as stacked bars (answered and missed inbound calls, outbound
// calls beside them), with a title, a legend and one <title> per bar for the exact
// figures. The result is a complete <svg> element, safe to put into a page as is or to
// serve as an image.
func (r Report) SVG(l Labels) string {
	const w, h, left, bottom, top = 960.0, 260.0, 40.0, 30.0, 10.0
	maxV := 1
	for _, b := range r.Buckets {
		maxV = max(maxV, b.Answered+b.Missed, b.CallsOut)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" role="img" aria-label="%s" class="chart">`, w, h, html.EscapeString(l.Title))
	fmt.Fprintf(&sb, `<title>%s</title>`, html.EscapeString(l.Title))
	sb.WriteString(`<g font-family="system-ui, sans-serif" font-size="12" fill="#1d232b">`)
	// The legend, top right.
	lx := w - 330
	for _, it := range []struct{ class, label string }{{"answered", l.Answered}, {"missed", l.Missed}, {"outbound", l.Outbound}} {
		fmt.Fprintf(&sb, `<rect x="%g" y="%g" width="10" height="10" fill="%s" class="%s"/><text x="%g" y="%g" class="legend">%s</text>`,
			lx, top-8, chartColours[it.class], it.class, lx+14, top+1, html.EscapeString(it.label))
		lx += 110
	}
	plotH := h - bottom - top
	// Axis and its top value.
	fmt.Fprintf(&sb, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#505a66" class="axis"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&sb, `<text x="%g" y="%g" class="tick" text-anchor="end">%d</text>`, left-4, top+10, maxV)
	fmt.Fprintf(&sb, `<text x="%g" y="%g" class="tick" text-anchor="end">0</text>`, left-4, h-bottom)
	n := max(len(r.Buckets), 1)
	slot := (w - left) / float64(n)
	bar := max(slot*0.4, 0.5)
	every := max(1, n/12) // at most a dozen date labels
	for i, b := range r.Buckets {
		x := left + float64(i)*slot + slot*0.1
		y := h - bottom
		for _, part := range []struct {
			v     int
			class string
			label string
		}{{b.Answered, "answered", l.Answered}, {b.Missed, "missed", l.Missed}} {
			ph := plotH * float64(part.v) / float64(maxV)
			y -= ph
			fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" class="%s"><title>%s %s: %d</title></rect>`,
				x, y, bar, ph, chartColours[part.class], part.class, html.EscapeString(label(b.Start, r.Step)), html.EscapeString(part.label), part.v)
		}
		ph := plotH * float64(b.CallsOut) / float64(maxV)
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="`+chartColours["outbound"]+`" class="outbound"><title>%s %s: %d</title></rect>`,
			x+bar, h-bottom-ph, bar, ph, html.EscapeString(label(b.Start, r.Step)), html.EscapeString(l.Outbound), b.CallsOut)
		if i%every == 0 {
			fmt.Fprintf(&sb, `<text x="%.1f" y="%g" class="tick">%s</text>`, x, h-bottom+16, html.EscapeString(label(b.Start, r.Step)))
		}
	}
	sb.WriteString(`</g></svg>`)
	return sb.String()
}

func label(t time.Time, s Step) string {
	if s == Hour {
		return t.Format("02.01. 15h")
	}
	return t.Format("02.01.")
}
