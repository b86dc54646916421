package config

import "log/slog"

// Secret is a credential. Every way of printing it (fmt verbs, slog) shows
// [redacted]; only Reveal gives the value, and only pkg/engine and
// pkg/bucket call it, to hand it to the S3 clients.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
