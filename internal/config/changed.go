package config

import (
	"reflect"
	"strings"
)

// Changed returns the top-level keys (log_level, telephony, rules, …) whose settings
// differ between a and b, in the order of Config's fields. Sections are compared by
// their content, not by where in the file they stand.
func Changed(a, b *Config) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		if !reflect.DeepEqual(content(va.Field(i).Interface()), content(vb.Field(i).Interface())) {
			out = append(out, key)
		}
	}
	return out
}

// content is v with sections and raw parts replaced by what their YAML says.
func content(v any) any {
	switch x := v.(type) {
	case Section:
		var m any
		if x.node != nil {
			x.node.Decode(&m)
		}
		return m
	case []Section:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = content(s)
		}
		return out
	case Raw:
		var m any
		if x.node != nil {
			x.node.Decode(&m)
		}
		return m
	}
	return v
}
