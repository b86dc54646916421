package bucket

import (
	"context"
	"path"
	"strconv"
	"strings"

	"github.com/benbjohnson/litestream"
	"github.com/minio/minio-go/v7"
	"github.com/superfly/ltx"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// levelsPage is how many keys the preflight's listing of the levels asks
// for: S3's largest page, so one request. A variable for the tests.
var levelsPage = 1000

// listLevels is one listing of <prefix>/000, which reaches every level
// directory (0000 to 0009). ltxFound reports an LTX file right in a level
// directory, so that other objects under the prefix (a lease, a marker, a
// kept history) are never mistaken for a backup. levels holds every
// level's files the way Litestream's own listing of a level reads them, so
// that the restore plan needs no listing of its own; it is nil when the
// first page was full: more may follow, and the plan's own listings, made
// at once, fetch them faster than further pages one after another.
func (s *Store) listLevels(ctx context.Context) (ltxFound bool, levels [][]*ltx.FileInfo, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	levels = make([][]*ltx.FileInfo, litestream.SnapshotLevel+1)
	n := 0
	for obj := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: s.Prefix + "/000", Recursive: true, MaxKeys: levelsPage}) {
		if obj.Err != nil {
			return false, nil, obj.Err
		}
		if m := ltxstate.LTXKey.FindStringSubmatch(obj.Key); m != nil && m[1] == s.Prefix {
			ltxFound = true
		}
		if n++; n >= levelsPage {
			levels = nil // the rest is only read until an LTX file shows
		}
		if levels != nil {
			if level, info, ok := levelFile(s.Prefix, obj); ok {
				levels[level] = append(levels[level], info)
			}
		} else if ltxFound {
			return true, nil, nil
		}
	}
	return ltxFound, levels, nil
}

// levelFile reads obj as Litestream's S3 client reads a key listed under
// <prefix>/<level as %04x>/: the base name must parse as an LTX file name;
// the size and LastModified come from the listing.
func levelFile(prefix string, obj minio.ObjectInfo) (int, *ltx.FileInfo, bool) {
	rest, ok := strings.CutPrefix(obj.Key, prefix+"/")
	if !ok || !ltxstate.LevelKey.MatchString(rest) {
		return 0, nil, false
	}
	level, err := strconv.ParseUint(rest[:4], 16, 8)
	if err != nil || level > litestream.SnapshotLevel {
		return 0, nil, false
	}
	minTXID, maxTXID, err := ltx.ParseFilename(path.Base(obj.Key))
	if err != nil {
		return 0, nil, false
	}
	return int(level), &ltx.FileInfo{Level: int(level), MinTXID: minTXID, MaxTXID: maxTXID,
		Size: obj.Size, CreatedAt: obj.LastModified.UTC()}, true
}
