package dataversetest

import (
	"fmt"
	"strconv"
	"strings"
)

// A filter is a parsed $filter expression.
type filter interface {
	eval(rec map[string]any) bool
}

type (
	orExpr  struct{ a, b filter }
	andExpr struct{ a, b filter }
	notExpr struct{ a filter }
	cmpExpr struct {
		prop string
		op   string
		val  any // string, float64, bool, nil
	}
	funcExpr struct {
		name string
		prop string
		val  string
	}
)

func (e orExpr) eval(r map[string]any) bool  { return e.a.eval(r) || e.b.eval(r) }
func (e andExpr) eval(r map[string]any) bool { return e.a.eval(r) && e.b.eval(r) }
func (e notExpr) eval(r map[string]any) bool { return !e.a.eval(r) }

func (e cmpExpr) eval(r map[string]any) bool {
	v, ok := r[e.prop]
	if !ok {
		v = nil
	}
	var c int
	switch want := e.val.(type) {
	case nil:
		eq := v == nil
		if e.op == "ne" {
			return !eq
		}
		return e.op == "eq" && eq
	case string:
		s, ok := v.(string)
		if !ok {
			return e.op == "ne"
		}
		// String comparisons in Dataverse are case-insensitive.
		c = strings.Compare(strings.ToLower(s), strings.ToLower(want))
	case float64:
		f, ok := v.(float64)
		if !ok {
			if i, isInt := v.(int); isInt {
				f, ok = float64(i), true
			}
		}
		if !ok {
			return e.op == "ne"
		}
		switch {
		case f < want:
			c = -1
		case f > want:
			c = 1
		}
	case bool:
		b, ok := v.(bool)
		eq := ok && b == want
		if e.op == "ne" {
			return !eq
		}
		return e.op == "eq" && eq
	}
	switch e.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func (e funcExpr) eval(r map[string]any) bool {
	s, _ := r[e.prop].(string)
	s, v := strings.ToLower(s), strings.ToLower(e.val)
	switch e.name {
	case "contains":
		return strings.Contains(s, v)
	case "startswith":
		return strings.HasPrefix(s, v)
	case "endswith":
		return strings.HasSuffix(s, v)
	}
	return false
}

// filterError is a $filter Dataverse would refuse (400).
type filterError struct {
	pos int
	msg string
}

func (e *filterError) Error() string {
	return fmt.Sprintf("Syntax error at position %d in the $filter: %s", e.pos, e.msg)
}

// parseFilter parses the (URL-decoded) $filter text strictly: the left side of every
// comparison must be a known property, the right side a literal; string literals must
// be terminated and embedded quotes doubled.
func parseFilter(s string, known func(string) bool) (filter, error) {
	p := &fparser{s: s, known: known}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, &filterError{p.i, fmt.Sprintf("unexpected %q", p.rest())}
	}
	return f, nil
}

type fparser struct {
	s     string
	i     int
	known func(string) bool
}

func (p *fparser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20]
	}
	return r
}

func (p *fparser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// keyword consumes w when it is the next word.
func (p *fparser) keyword(w string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], w) {
		end := p.i + len(w)
		if end == len(p.s) || p.s[end] == ' ' || p.s[end] == '(' {
			p.i = end
			return true
		}
	}
	return false
}

func (p *fparser) or() (filter, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = orExpr{a, b}
	}
	return a, nil
}

func (p *fparser) and() (filter, error) {
	a, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		b, err := p.unary()
		if err != nil {
			return nil, err
		}
		a = andExpr{a, b}
	}
	return a, nil
}

func (p *fparser) unary() (filter, error) {
	if p.keyword("not") {
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{a}, nil
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		a, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, &filterError{p.i, "expected ')'"}
		}
		p.i++
		return a, nil
	}
	start := p.i
	id := p.ident()
	if id == "" {
		return nil, &filterError{start, fmt.Sprintf("expected a property name, found %q", p.rest())}
	}
	switch id {
	case "contains", "startswith", "endswith":
		if p.i < len(p.s) && p.s[p.i] == '(' {
			p.i++
			p.space()
			pstart := p.i
			prop := p.ident()
			if !p.known(prop) {
				return nil, &filterError{pstart, fmt.Sprintf("Could not find a property named '%s'", prop)}
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ',' {
				return nil, &filterError{p.i, "expected ','"}
			}
			p.i++
			p.space()
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			s, ok := v.(string)
			if !ok {
				return nil, &filterError{p.i, id + " needs a string literal"}
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ')' {
				return nil, &filterError{p.i, "expected ')'"}
			}
			p.i++
			return funcExpr{name: id, prop: prop, val: s}, nil
		}
	}
	if !p.known(id) {
		return nil, &filterError{start, fmt.Sprintf("Could not find a property named '%s'", id)}
	}
	p.space()
	opStart := p.i
	op := p.ident()
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, &filterError{opStart, fmt.Sprintf("expected a comparison operator, found %q", op)}
	}
	p.space()
	v, err := p.literal()
	if err != nil {
		return nil, err
	}
	return cmpExpr{prop: id, op: op, val: v}, nil
}

func (p *fparser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' && p.i > start {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *fparser) literal() (any, error) {
	if p.i >= len(p.s) {
		return nil, &filterError{p.i, "expected a literal"}
	}
	if p.s[p.i] == '\'' {
		start := p.i
		p.i++
		var b strings.Builder
		for {
			if p.i >= len(p.s) {
				return nil, &filterError{start, fmt.Sprintf("There is an unterminated literal at position %d in '%s'", start, p.s)}
			}
			c := p.s[p.i]
			p.i++
			if c == '\'' {
				if p.i < len(p.s) && p.s[p.i] == '\'' {
					b.WriteByte('\'')
					p.i++
					continue
				}
				return b.String(), nil
			}
			b.WriteByte(c)
		}
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' {
		p.i++
	}
	w := p.s[start:p.i]
	switch w {
	case "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if f, err := strconv.ParseFloat(w, 64); err == nil {
		return f, nil
	}
	if isGUID(w) {
		return strings.ToLower(w), nil
	}
	return nil, &filterError{start, fmt.Sprintf("expected a literal, found %q", w)}
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ParseFilter parses a URL-decoded $filter as the fake does (strictly) and returns a
// predicate over records; known says which property names exist.
func ParseFilter(s string, known func(string) bool) (func(map[string]any) bool, error) {
	f, err := parseFilter(s, known)
	if err != nil {
		return nil, err
	}
	return f.eval, nil
}
