// Package ltxstate owns a replica's layout and the state that tells where
// a database stands against its replica: Litestream's local LTX files
// beside the database, our restore marker, the replica's tip and the file
// checksum that tells two histories apart, and the lineage proof built from
// them. restore and replicate decide from this package alone, so that the
// init step and the sidecar agree by construction. docs/design.md has the
// decision tables.
package ltxstate

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// Litestream's layouts under a replica prefix. v0.5's S3 client writes
// <prefix>/<level as %04x>/<min>-<max>.ltx and its file client
// <dir>/ltx/<level>/<min>-<max>.ltx; v0.3 wrote <prefix>/generations/<id>/.
const (
	FileLTXDir     = "ltx"
	GenerationsDir = "generations"
)

// HistoryDir is where a replaced history is kept, under the prefix:
// <prefix>/history/<stamp>/ holds an ordinary replica, restorable with
// REPLICA_URL=<url>/history/<stamp>.
const HistoryDir = "history"

// HistoryMove is the object, under the prefix, that names where a history
// is being moved while its originals are deleted (bucket.MoveLevels):
// while it exists, what the levels hold is a remnant, not a history.
const HistoryMove = "history-move.json"

// HistoryPrevious is the object (a file, for file://), under the prefix,
// that names where a sidecar moved the history it went on from, while the
// new history it starts has no snapshot in the levels yet. Until then that
// history is the replica's latest backup: restore reads it from there.
// The sidecar writes it only when its database continues that history (a
// WAL discontinuity), and removes it after its first sync.
const HistoryPrevious = "history-previous.json"

// HistoryStamp names a kept history or a database moved aside: a UTC time
// that sorts as a string.
func HistoryStamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

var (
	// LevelKey matches the key of an object in an S3 level directory,
	// relative to the prefix.
	LevelKey = regexp.MustCompile(`^[0-9a-f]{4}/`)
	// LevelDir matches a level directory's name as S3 lists it with a
	// delimiter, relative to the prefix.
	LevelDir = regexp.MustCompile(`^[0-9a-f]{4}/$`)
	// LTXKey matches an S3 key of an LTX file; group 1 is the prefix.
	LTXKey = regexp.MustCompile(`^(.*)/[0-9a-f]{4}/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$`)
	// V3Key matches an S3 key inside a v0.3 generation; group 1 is the prefix.
	V3Key = regexp.MustCompile(`^(.*)/generations/[0-9a-f]{16}/`)
)

// LTXObjectKey is the S3 key of an LTX file, as v0.5's S3 client names it.
func LTXObjectKey(prefix string, level int, minTXID, maxTXID ltx.TXID) string {
	return path.Join(prefix, fmt.Sprintf("%04x", level), ltx.FormatFilename(minTXID, maxTXID))
}

// MetaDir is Litestream's local state directory beside dbPath
// (.<name>-litestream), which holds its local LTX files.
func MetaDir(dbPath string) string {
	dir, name := filepath.Split(dbPath)
	return filepath.Join(dir, "."+name+litestream.MetaDirSuffix)
}

// LocalLevelDir is the directory of Litestream's local LTX files of level.
func LocalLevelDir(dbPath string, level int) string {
	return filepath.Join(MetaDir(dbPath), "ltx", strconv.Itoa(level))
}

// MarkerPath is where the restore marker of dbPath lives: a dot file
// beside it, like Litestream's own .<name>-litestream directory.
func MarkerPath(dbPath string) string {
	dir, name := filepath.Split(dbPath)
	return filepath.Join(dir, "."+name+"-sidecar-restore.json")
}
