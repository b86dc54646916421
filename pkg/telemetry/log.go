// Package telemetry is what operators observe: structured logs, a
// Prometheus registry of our own, and the sidecar's HTTP server.
package telemetry

import (
	"io"
	"log/slog"
	"strings"
)

// NewLogger returns a slog logger writing format ("text" or "json") at
// level ("debug", "info", "warn", "error") to w. Config validation has
// already rejected other values.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
