package config

import (
	"fmt"
	"reflect"
	"strings"
)

// setting describes one field of Config, read from its tags.
type setting struct {
	index    int
	env      string // DB_PATH
	flag     string // db-path
	def      string
	help     string
	alias    string // LITESTREAM_ACCESS_KEY_ID
	modes    Mode
	secret   bool
	boolean  bool
	typeName string
}

var settings = readSettings()

func readSettings() []setting {
	t := reflect.TypeFor[Config]()
	out := make([]setting, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		s := setting{
			index:   i,
			env:     name,
			flag:    FlagName(name),
			def:     f.Tag.Get("envDefault"),
			help:    f.Tag.Get("help"),
			alias:   f.Tag.Get("alias"),
			modes:   parseModes(f.Tag.Get("mode")),
			secret:  f.Type == reflect.TypeFor[Secret](),
			boolean: f.Type.Kind() == reflect.Bool,
		}
		switch {
		case f.Type.String() == "time.Duration":
			s.typeName = "duration"
		case s.boolean:
			s.typeName = "bool"
		default:
			s.typeName = "string"
		}
		out = append(out, s)
	}
	return out
}

func parseModes(tag string) Mode {
	if tag == "" {
		return common
	}
	var m Mode
	for _, c := range tag {
		switch c {
		case 'r':
			m |= Restore
		case 'v':
			m |= Verify
		case 's':
			m |= Replicate
		default:
			panic(fmt.Sprintf("config: bad mode tag %q", tag)) // a programming error, caught by any test
		}
	}
	return m
}

// FlagName is the flag of an environment variable: DB_PATH -> db-path.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// settingByField finds the setting of a Config field name, for errors that
// caarlos0/env reports by field.
func settingByField(field string) (setting, bool) {
	t := reflect.TypeFor[Config]()
	for _, s := range settings {
		if t.Field(s.index).Name == field {
			return s, true
		}
	}
	return setting{}, false
}

// render prints c as space-separated NAME=value pairs, secrets redacted.
func render(c Config) string {
	v := reflect.ValueOf(c)
	var b strings.Builder
	for _, s := range settings {
		fv := v.Field(s.index)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.env)
		b.WriteByte('=')
		if s.secret {
			b.WriteString(fv.Interface().(Secret).String())
			continue
		}
		fmt.Fprint(&b, fv.Interface())
	}
	return b.String()
}
