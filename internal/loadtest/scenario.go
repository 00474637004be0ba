package loadtest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A Scenario is one captured AMI call (the real captures of internal/telephony/ami, embedded
// in the binary: ami.Captures), ready to be
// replayed as many new calls: Call renumbers its ids and channels, moves its clock to now,
// and puts another extension and caller in.
type Scenario struct {
	Name string
	// ring is the capture up to the first DialBegin (the phone starts ringing); rest is
	// what follows.
	ring, rest string
	t0         float64 // first Timestamp
}

// Extension and caller the captures use.
const (
	capturedExt    = "200"
	capturedCaller = "+49309876543"
)

// LoadScenario reads dir/name.ami.
func LoadScenario(dir, name string) (*Scenario, error) {
	return LoadScenarioFS(os.DirFS(dir), name)
}

// LoadScenarioFS reads name.ami from fsys (ami.Captures() for the embedded captures).
func LoadScenarioFS(fsys fs.FS, name string) (*Scenario, error) {
	if !fs.ValidPath(name) || strings.Contains(name, "/") {
		return nil, fmt.Errorf("loadtest: scenario %q: not a capture name", name)
	}
	b, err := fs.ReadFile(fsys, name+".ami")
	if err != nil {
		return nil, fmt.Errorf("loadtest: scenario: %w", err)
	}
	i := bytes.Index(b, []byte("\r\n\r\n"))
	j := bytes.Index(b, []byte("Response: Goodbye\r\n"))
	if i < 0 || j < i {
		return nil, fmt.Errorf("loadtest: scenario %s: no login reply or no Goodbye", name)
	}
	events := string(b[i+4 : j])
	var ring, rest []string
	seen := false
	for _, m := range strings.SplitAfter(events, "\r\n\r\n") {
		if strings.TrimSpace(m) == "" {
			continue
		}
		if strings.HasPrefix(m, "Event: FullyBooted") || strings.HasPrefix(m, "Event: SuccessfulAuth") {
			continue
		}
		if seen {
			rest = append(rest, m)
		} else {
			ring = append(ring, m)
		}
		if strings.HasPrefix(m, "Event: DialBegin\r\n") {
			seen = true
		}
	}
	if !seen {
		return nil, fmt.Errorf("loadtest: scenario %s: no DialBegin", name)
	}
	s := &Scenario{Name: name, ring: strings.Join(ring, ""), rest: strings.Join(rest, "")}
	if m := tsRE.FindStringSubmatch(s.ring); m != nil {
		s.t0, _ = strconv.ParseFloat(m[1], 64)
	}
	return s, nil
}

var (
	tsRE    = regexp.MustCompile(`(?m)^Timestamp: ([0-9]+\.[0-9]+)\r$`)
	idRE    = regexp.MustCompile(`(?m)^([A-Za-z]*(?:Uniqueid|Linkedid)): ([0-9]+\.[0-9]+)\r$`)
	chanRE  = regexp.MustCompile(`((?:PJSIP|SIP|Local)/[^\s;]*?)-([0-9a-f]{8})\b`)
	extRE   = regexp.MustCompile(`\b` + capturedExt + `\b`)
	skipKey = regexp.MustCompile(`(?i)^(timestamp|[a-z]*uniqueid|[a-z]*linkedid|eventtv|sessiontv|value|variable|uptime|lastreload|bridgeuniqueid)$`)
)

// Call returns the scenario as call number n (unique per run): ids and channel numbers
// renumbered, timestamps moved so that the capture starts at now, extension 200 replaced
// by ext and the caller by caller.
func (s *Scenario) Call(n int, ext, caller string, now time.Time) (ring, rest []byte) {
	ids := map[string]string{}
	chans := map[string]string{}
	shift := float64(now.UnixNano())/1e9 - s.t0
	conv := func(src string) []byte {
		out := tsRE.ReplaceAllStringFunc(src, func(m string) string {
			v, _ := strconv.ParseFloat(tsRE.FindStringSubmatch(m)[1], 64)
			return fmt.Sprintf("Timestamp: %.6f\r", v+shift)
		})
		out = idRE.ReplaceAllStringFunc(out, func(m string) string {
			sm := idRE.FindStringSubmatch(m)
			id, ok := ids[sm[2]]
			if !ok {
				id = fmt.Sprintf("%d.%d", 2000000000+n, len(ids))
				ids[sm[2]] = id
			}
			return sm[1] + ": " + id + "\r"
		})
		out = chanRE.ReplaceAllStringFunc(out, func(m string) string {
			sm := chanRE.FindStringSubmatch(m)
			c, ok := chans[sm[2]]
			if !ok {
				c = fmt.Sprintf("%08x", uint32(n)<<4|uint32(len(chans)&15))
				chans[sm[2]] = c
			}
			return sm[1] + "-" + c
		})
		lines := strings.Split(out, "\r\n")
		for i, l := range lines {
			k, _, ok := strings.Cut(l, ": ")
			if !ok || skipKey.MatchString(k) {
				continue
			}
			if strings.Contains(l, capturedExt) {
				lines[i] = extRE.ReplaceAllString(l, ext)
			}
			if strings.Contains(l, capturedCaller) {
				lines[i] = strings.ReplaceAll(lines[i], capturedCaller, caller)
			}
		}
		return []byte(strings.Join(lines, "\r\n"))
	}
	return conv(s.ring), conv(s.rest)
}
