package config

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteUsage writes the settings mode uses as a table: variable, flag,
// default, meaning. It is part of --help; it prints no value, only defaults.
func WriteUsage(w io.Writer, mode Mode) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tFLAG\tDEFAULT\tMEANING")
	for _, s := range settings {
		if s.modes&mode == 0 {
			continue
		}
		def := s.def
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t--%s\t%s\t%s\n", s.env, s.flag, def, s.help)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n  A flag wins over its variable. Secrets also accept NAME_FILE / --name-file:")
	fmt.Fprintln(w, "  a file holding the value (Kubernetes Secret volume, Nomad Vault template).")
}
