package config

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// DBPaths is DB_PATH split: one path, or a comma-separated list of
// absolute paths (items trimmed of spaces). A value whose items are not
// all absolute is one path only where the filesystem shows it is
// (commaPathExists): a relative item after a comma is a mistyped list far
// more often than a file name with a comma in it, and read as one path it
// would restore to, and wait for, a file nobody uses. Otherwise the items
// are returned as they are, and Validate refuses the relative ones.
func (c *Config) DBPaths() []string {
	items := strings.Split(c.DBPath, ",")
	if len(items) < 2 {
		return []string{c.DBPath}
	}
	relative := false
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
		relative = relative || (items[i] != "" && !filepath.IsAbs(items[i]))
	}
	if relative && commaPathExists(c.DBPath) {
		return []string{c.DBPath}
	}
	return items
}

// commaPathExists reports whether p, holding a comma, is a path the
// filesystem has: the file itself, or, when the last comma is in a
// directory's name, that directory (the database may not exist yet on a
// first boot, the directory holding it does).
func commaPathExists(p string) bool {
	if _, err := os.Stat(p); err == nil {
		return true
	}
	i := strings.LastIndex(p, ",")
	j := strings.Index(p[i:], "/")
	return j > 0 && isDir(p[:i+j])
}

// Several reports whether DB_PATH names more than one database.
func (c *Config) Several() bool { return len(c.DBPaths()) > 1 }

// Each returns one Config per database DB_PATH names. One path: c itself,
// whose replica is REPLICA_URL. Several: a copy per database whose DBPath
// is that file and whose REPLICA_URL is <REPLICA_URL>/<file name>, an
// ordinary single-database replica of its own (docs/design.md, "Several
// databases"). Call it on a validated Config.
func (c *Config) Each() []*Config {
	if !c.Several() {
		return []*Config{c}
	}
	var out []*Config
	for _, p := range c.DBPaths() {
		one := *c
		one.DBPath = p
		one.ReplicaURL = c.Location().Join(filepath.Base(p)).String()
		out = append(out, &one)
	}
	return out
}

// Join is the location of a sub-prefix (s3) or sub-directory (file) name.
func (l Location) Join(name string) Location {
	if l.Scheme == "file" {
		l.Dir = path.Join(l.Dir, name)
	} else {
		l.Prefix = path.Join(l.Prefix, name)
	}
	return l
}

// validateDBPaths checks DB_PATH: every item names a file (not empty, not a
// directory), and with several, no two share a file name, since the file
// name is each one's replica sub-prefix.
func (c *Config) validateDBPaths(bad func(name, format string, args ...any)) {
	if c.DBPath == "" {
		bad("DB_PATH", "is required (the SQLite file the app uses, e.g. /data/app.db)")
		return
	}
	var empty, relative, dirs, dups []string
	seen := map[string]string{}
	paths := c.DBPaths()
	for i, p := range paths {
		switch {
		case p == "":
			empty = append(empty, "item "+strconv.Itoa(i+1))
			continue
		case len(paths) > 1 && !filepath.IsAbs(p):
			relative = append(relative, "item "+strconv.Itoa(i+1)+" "+strconv.Quote(short(p)))
			continue
		case strings.HasSuffix(p, "/") || isDir(p):
			dirs = append(dirs, strconv.Quote(short(p)))
			continue
		}
		name := filepath.Base(p)
		if first, ok := seen[name]; ok {
			dups = append(dups, strconv.Quote(short(first))+" and "+strconv.Quote(short(p)))
		}
		seen[name] = p
	}
	if len(empty) > 0 {
		bad("DB_PATH", "has an empty item (%s); want one path or a comma-separated list of paths", strings.Join(empty, ", "))
	}
	if len(relative) > 0 {
		verb := "is not an absolute path"
		if len(relative) > 1 {
			verb = "are not absolute paths"
		}
		bad("DB_PATH", "%s %s: a comma separates databases, each an absolute path (one path with a comma in it must already exist: the file, or the directory with the comma in its name)", strings.Join(relative, ", "), verb)
	}
	if len(dirs) > 0 {
		bad("DB_PATH", "%s names a directory; it must name the database file", strings.Join(dirs, ", "))
	}
	if len(dups) > 0 {
		bad("DB_PATH", "%s have the same file name; with several databases each replicates to <REPLICA_URL>/<file name>, so file names must differ", strings.Join(dups, ", "))
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
