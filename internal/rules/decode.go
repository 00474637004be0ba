package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ringside/ringside/internal/config"
)

// node captures the rules section undecoded, with its lines.
type node struct{ n *yaml.Node }

// UnmarshalYAML keeps the node.
func (r *node) UnmarshalYAML(n *yaml.Node) error { r.n = n; return nil }

// spec is the decoded section.
type spec struct {
	mapping bool // the mapping form (time_zone, groups, list)
	zone    string
	groups  map[string][]string
	rules   []*Rule
}

// decoder turns the section's nodes into rules strictly, collecting every mistake with
// its line.
type decoder struct {
	file string
	errs []error
}

func (d *decoder) errf(n *yaml.Node, path, format string, args ...any) {
	file := d.file
	if file == "" {
		file = "config"
	}
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s: %s", file, n.Line, path, fmt.Sprintf(format, args...)))
}

func (d *decoder) top(n *yaml.Node) spec {
	var s spec
	if n == nil {
		return s
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		s.rules = d.list(n, "rules")
	case yaml.MappingNode:
		s.mapping = true
		d.mapping(n, "rules", map[string]func(*yaml.Node){
			"time_zone": func(v *yaml.Node) {
				d.decode(v, "rules.time_zone", &s.zone)
				if _, err := time.LoadLocation(s.zone); err != nil {
					d.errf(v, "rules.time_zone", "unknown time zone %q (use an IANA name such as Europe/Berlin)", s.zone)
				}
			},
			"groups": func(v *yaml.Node) { d.decode(v, "rules.groups", &s.groups) },
			"list":   func(v *yaml.Node) { s.rules = d.list(v, "rules.list") },
		})
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return s
		}
		fallthrough
	default:
		d.errf(n, "rules", "expected a list of rules (or a mapping with time_zone, groups and list)")
	}
	return s
}

func (d *decoder) list(n *yaml.Node, path string) []*Rule {
	if n.Kind != yaml.SequenceNode {
		if n.Tag != "!!null" {
			d.errf(n, path, "expected a list of rules")
		}
		return nil
	}
	var out []*Rule
	for i, rn := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		if rn.Kind == yaml.ScalarNode && rn.Value == "defaults" {
			out = append(out, &Rule{Line: rn.Line, isDefaults: true, pos: i})
			continue
		}
		if rn.Kind != yaml.MappingNode {
			d.errf(rn, p, "expected a rule (a mapping with on, when and do) or the word defaults")
			continue
		}
		r := &Rule{Line: rn.Line, pos: i, lines: map[string]int{}}
		d.mapping(rn, p, map[string]func(*yaml.Node){
			"name": func(v *yaml.Node) { d.decode(v, p+".name", &r.Name) },
			"on":   func(v *yaml.Node) { r.lines["on"] = v.Line; r.On = d.strings(v, p+".on") },
			"when": func(v *yaml.Node) { r.lines["when"] = v.Line; d.when(v, p+".when", &r.When) },
			"do": func(v *yaml.Node) {
				r.lines["do"] = v.Line
				r.Do, r.Stop = d.actions(v, p+".do")
				for j, a := range r.Do {
					r.lines[fmt.Sprintf("do[%d]", j)] = a.Line
				}
			},
		})
		out = append(out, r)
	}
	return out
}

// mapping calls the handler of each key and reports unknown ones.
func (d *decoder) mapping(n *yaml.Node, path string, keys map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errf(n, path, "expected a mapping")
		return
	}
	known := make([]string, 0, len(keys))
	for k := range keys {
		known = append(known, k)
	}
	slices.Sort(known)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		f, ok := keys[k.Value]
		if !ok {
			d.errf(k, path+"."+k.Value, "unknown key%s (keys: %s)", suggestOne(k.Value, known), strings.Join(known, ", "))
			continue
		}
		f(n.Content[i+1])
	}
}

func (d *decoder) decode(n *yaml.Node, path string, out any) {
	if err := n.Decode(out); err != nil {
		msg := err.Error()
		if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
			msg = te.Errors[0]
			if _, after, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
				msg = after
			}
		}
		d.errf(n, path, "%s", msg)
	}
}

// strings decodes a string or a list of strings.
func (d *decoder) strings(n *yaml.Node, path string) []string {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	var out []string
	d.decode(n, path, &out)
	return out
}

func (d *decoder) when(n *yaml.Node, path string, w *When) {
	list := func(dst *[]string, key string) func(*yaml.Node) {
		return func(v *yaml.Node) { *dst = d.strings(v, path+"."+key) }
	}
	str := func(dst *string, key string) func(*yaml.Node) {
		return func(v *yaml.Node) { d.decode(v, path+"."+key, dst) }
	}
	d.mapping(n, path, map[string]func(*yaml.Node){
		"match":      str(&w.Match, "match"),
		"entity":     list(&w.Entity, "entity"),
		"users":      list(&w.Users, "users"),
		"groups":     list(&w.Groups, "groups"),
		"extensions": list(&w.Extensions, "extensions"),
		"did":        list(&w.DID, "did"),
		"number":     list(&w.Number, "number"),
		"days":       list(&w.Days, "days"),
		"hours":      list(&w.Hours, "hours"),
		"window":     str(&w.Window, "window"),
		"time_zone":  str(&w.TimeZone, "time_zone"),
	})
}

// actions decodes `do`: a name, or a list of names and single-key mappings
// ({webhook: {url: …}}); the word stop ends the rule list for the event.
func (d *decoder) actions(n *yaml.Node, path string) (out []Action, stop bool) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		var name string
		var params *yaml.Node
		switch {
		case it.Kind == yaml.ScalarNode:
			name = it.Value
		case it.Kind == yaml.MappingNode && len(it.Content) == 2:
			name, params = it.Content[0].Value, it.Content[1]
		default:
			d.errf(it, p, "expected an action name or {action: {parameters}}")
			continue
		}
		allowed, ok := actionParams[name]
		if !ok {
			d.errf(it, p, "unknown action %q%s (actions: %s)", name, suggestOne(name, actionNames), strings.Join(actionNames, ", "))
			continue
		}
		if name == actStop {
			stop = true
			continue
		}
		a := Action{Do: name, Line: it.Line}
		if params != nil && params.Tag != "!!null" {
			keys := map[string]func(*yaml.Node){}
			for _, k := range allowed {
				keys[k] = func(v *yaml.Node) { d.param(v, p+"."+name+"."+k, k, &a) }
			}
			if len(allowed) == 0 {
				d.errf(params, p+"."+name, "takes no parameters")
			} else {
				d.mapping(params, p+"."+name, keys)
			}
		}
		out = append(out, a)
	}
	return out, stop
}

func (d *decoder) param(v *yaml.Node, path, key string, a *Action) {
	dst := map[string]*string{
		"target": &a.Target, "entity": &a.Entity, "url": &a.URL, "subject": &a.Subject,
		"title": &a.Title, "text": &a.Text, "owner": &a.Owner, "secret_env": &a.SecretEnv, "secret_file": &a.SecretFile,
	}
	if s, ok := dst[key]; ok {
		d.decode(v, path, s)
		return
	}
	if key == "timeout" {
		d.decode(v, path, &a.Timeout)
	}
}

// suggestOne returns ` (did you mean "x"?)` for a close name.
func suggestOne(k string, names []string) string { return config.DidYouMean(k, names) }
