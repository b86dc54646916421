package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/sysexit"
)

// maxValue bounds every setting's length (PATH_MAX): a longer value is a
// mistake, and echoing it would flood the one-line error.
const maxValue = 4096

// maxSecretFile bounds what a *_FILE may hold: a credential, not a dump.
const maxSecretFile = 64 << 10

// Error is an invalid setting. Name is the environment variable (the flag
// is the same name, dashed); Reason never holds a secret's value.
type Error struct {
	Name   string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("invalid %s: %s", e.Name, e.Reason) }

// Loader binds the settings of one mode to a flag set and, after the flag
// set is parsed, builds the Config from flags, environment and defaults.
type Loader struct {
	flags map[string]*flagValue // by environment variable name
}

// Bind registers a flag for every setting mode uses (and NAME-file for
// secrets) on fs, and returns the Loader that reads them back.
func Bind(fs *flag.FlagSet, mode Mode) *Loader {
	l := &Loader{flags: map[string]*flagValue{}}
	for _, s := range settings {
		if s.modes&mode == 0 {
			continue
		}
		l.add(fs, s.env, s.boolean, s.help)
		if s.secret {
			l.add(fs, s.env+"_FILE", false, "file holding "+s.env)
		}
	}
	return l
}

func (l *Loader) add(fs *flag.FlagSet, name string, boolean bool, help string) {
	v := &flagValue{boolean: boolean}
	l.flags[name] = v
	fs.Var(v, FlagName(name), help)
}

// Load builds the Config from the parsed flags and environ (os.Environ()
// form), then validates it for mode (a binary may bind several modes and
// pick one from its own flags). Errors carry exit code 64
// and name the variable.
func (l *Loader) Load(environ []string, mode Mode) (*Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var errs []error
	for _, s := range settings {
		for _, name := range []string{s.env, s.env + "_FILE", s.alias, s.alias + "_FILE"} {
			v := vars[name]
			if fv := l.flags[name]; fv != nil && fv.set {
				v = fv.v
			}
			if len(v) > maxValue {
				errs = append(errs, &Error{Name: name, Reason: fmt.Sprintf("is %d bytes long; the limit is %d", len(v), maxValue)})
			}
		}
	}
	if len(errs) > 0 {
		return nil, sysexit.New(sysexit.Usage, errors.Join(errs...))
	}
	for _, s := range settings {
		if !s.secret {
			if fv := l.flags[s.env]; fv != nil && fv.set {
				vars[s.env] = fv.v
			}
			continue
		}
		v, err := l.secret(s, vars)
		if err != nil {
			errs = append(errs, err)
		}
		vars[s.env] = v
	}
	if len(errs) > 0 {
		return nil, sysexit.New(sysexit.Usage, errors.Join(errs...))
	}

	// Each binary reads only its own settings: one ConfigMap serves both
	// containers, and a value only the other binary uses is not this one's
	// to refuse (its --help does not list it either).
	for _, s := range settings {
		if s.modes&mode == 0 {
			delete(vars, s.env)
		}
	}
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		return nil, sysexit.New(sysexit.Usage, translate(err, vars))
	}
	if cfg.S3CAFile == "" {
		cfg.S3CAFile = cfg.AWSCABundle
	}
	if err := cfg.Validate(mode); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// secret resolves a credential. First set wins: --name, --name-file, NAME,
// NAME_FILE, ALIAS, ALIAS_FILE.
func (l *Loader) secret(s setting, vars map[string]string) (string, error) {
	type source struct{ name, value string }
	var srcs []source
	for _, name := range []string{s.env, s.env + "_FILE"} {
		if fv := l.flags[name]; fv != nil && fv.set {
			srcs = append(srcs, source{name, fv.v})
		}
	}
	for _, name := range []string{s.env, s.env + "_FILE", s.alias, s.alias + "_FILE"} {
		if name != "" && name != "_FILE" && vars[name] != "" {
			srcs = append(srcs, source{name, vars[name]})
		}
	}
	if len(srcs) == 0 {
		return "", nil
	}
	src := srcs[0]
	if !strings.HasSuffix(src.name, "_FILE") {
		return src.value, nil
	}
	v, err := readSecretFile(src.value)
	if err != nil {
		return "", &Error{Name: src.name, Reason: err.Error()}
	}
	return v, nil
}

// readSecretFile reads a Kubernetes Secret volume or Nomad template file.
// Its errors name the path (not secret) and never the content.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %q: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %q: %w", path, err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%q is larger than %d bytes; it should hold only the credential", path, maxSecretFile)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%q is empty", path)
	}
	return v, nil
}

// translate turns caarlos0/env's errors, which name struct fields, into
// errors that name the variable.
func translate(err error, vars map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if s, ok := settingByField(pe.Name); ok {
				out = append(out, &Error{Name: s.env, Reason: accepted(s, vars[s.env])})
				continue
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// accepted says what a setting of s's type accepts, with an example,
// instead of the parser's own words (strconv.ParseBool: parsing …).
func accepted(s setting, got string) string {
	switch s.typeName {
	case "duration":
		return fmt.Sprintf("%q is not a duration; use a number with a unit (ms, s, m, h), e.g. %s", short(got), s.defOr("30s"))
	case "bool":
		return fmt.Sprintf("%q is not true or false", short(got))
	}
	return fmt.Sprintf("%q is not accepted", short(got))
}

func (s setting) defOr(example string) string {
	if s.def != "" {
		return s.def
	}
	return example
}

// short abbreviates text quoted in an error to keep the error one
// readable line.
func short(s string) string {
	const n = 120
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// flagValue records whether a flag was given, so that an unset flag does
// not override the environment with its zero value.
type flagValue struct {
	v       string
	set     bool
	boolean bool
}

func (f *flagValue) String() string { return "" } // never echo a value: it may be a secret
func (f *flagValue) Set(s string) error {
	f.v, f.set = s, true
	return nil
}
func (f *flagValue) IsBoolFlag() bool { return f.boolean }
