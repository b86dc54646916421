package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// ErrBadMove: the move object is there but does not name a destination
// (written by hand, or by something else).
var ErrBadMove = errors.New("not a move of the history")

// move is the body of the move object.
type move struct {
	To string `json:"to"` // the key prefix the history is moved to
}

// MoveLevels copies every object in the prefix's LTX level directories to
// dest (a key prefix), then deletes the originals, so that a crash leaves
// duplicates, never a gap. It returns how many objects moved.
//
// latest says that the database goes on from this history (a WAL
// discontinuity, not a replaced file or a lost replica): once the copies
// are whole, the previous object (ltxstate.HistoryPrevious) names dest, so
// that until the new history's first snapshot a restore reads dest as the
// latest backup instead of refusing an empty prefix.
//
// S3 has no rename, and the deletes run one by one in listing order, level
// 0 first. A crash between two of them would leave the higher levels alone
// (a compacted file, a snapshot), which read as a complete but shorter
// history: a restore would return that older position as the latest, and
// the sidecar's lineage guard would refuse its own copy. So the deletes
// run only while the move object (ltxstate.HistoryMove) names dest, which
// holds every object by then. Readers that find it take the prefix as
// being moved: restore reads dest when the previous object names it, and
// otherwise refuses and names dest; the sidecar, under the lease, finishes
// the move (FinishMove).
func (s *Store) MoveLevels(ctx context.Context, dest string, latest bool) (int, error) {
	var keys []string
	for obj := range s.client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: s.Prefix + "/", Recursive: true}) {
		if obj.Err != nil {
			return 0, obj.Err
		}
		if rel := strings.TrimPrefix(obj.Key, s.Prefix+"/"); ltxstate.LevelKey.MatchString(rel) {
			keys = append(keys, obj.Key)
		}
	}
	for _, k := range keys {
		dst := minio.CopyDestOptions{Bucket: s.Bucket, Object: dest + "/" + strings.TrimPrefix(k, s.Prefix+"/")}
		if _, err := s.client.CopyObject(ctx, dst, minio.CopySrcOptions{Bucket: s.Bucket, Object: k}); err != nil {
			return 0, err
		}
	}
	if len(keys) == 0 {
		return 0, s.removeMove(ctx)
	}
	if latest {
		if err := s.putMove(ctx, s.previousKey(), dest); err != nil {
			return 0, err
		}
	}
	if err := s.putMove(ctx, s.moveKey(), dest); err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := s.client.RemoveObject(ctx, s.Bucket, k, minio.RemoveObjectOptions{}); err != nil {
			return 0, err
		}
	}
	return len(keys), s.removeMove(ctx)
}

// PendingMove returns the destination of a move of the history that
// began and did not finish (the move object present), "" when there is none.
func (s *Store) PendingMove(ctx context.Context) (string, error) {
	return s.readMove(ctx, s.moveKey())
}

// Previous returns, as s3://bucket/key, the history the previous object
// names (MoveLevels, latest), "" when there is none.
func (s *Store) Previous(ctx context.Context) (string, error) {
	to, err := s.readMove(ctx, s.previousKey())
	if err != nil || to == "" {
		return "", err
	}
	return "s3://" + s.Bucket + "/" + to, nil
}

// ClearPrevious removes the previous object: the new history has its
// snapshot in the levels, and that is the latest backup now.
func (s *Store) ClearPrevious(ctx context.Context) error {
	return s.remove(ctx, s.previousKey())
}

func (s *Store) readMove(ctx context.Context, key string) (string, error) {
	b, _, ok, err := s.ReadSmall(ctx, key, 64<<10)
	if err != nil || !ok {
		return "", err
	}
	return parseMove(key, b)
}

// parseMove reads the body of a move or previous object found at where.
func parseMove(where string, b []byte) (string, error) {
	var m move
	if err := json.Unmarshal(b, &m); err != nil || m.To == "" {
		return "", fmt.Errorf("%w: %s holds %q: remove it by hand once the replica is as it should be", ErrBadMove, where, b)
	}
	return m.To, nil
}

func (s *Store) putMove(ctx context.Context, key, dest string) error {
	b, err := json.Marshal(move{To: dest})
	if err != nil {
		return err
	}
	if _, err := s.client.PutObject(ctx, s.Bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// FinishMove completes a move of the history that a sidecar began and did
// not finish: every object left in the level directories goes to the
// destination the move object names (they are copies of what is there already),
// then the move object goes. It returns the destination, "" when no move was
// pending.
func (s *Store) FinishMove(ctx context.Context) (string, error) {
	dest, err := s.PendingMove(ctx)
	if err != nil || dest == "" {
		return "", err
	}
	// The previous object, if the move wrote one, is there already: it
	// goes only with the new history's first snapshot.
	if _, err := s.MoveLevels(ctx, dest, false); err != nil {
		return "", err
	}
	return dest, nil
}

func (s *Store) moveKey() string     { return path.Join(s.Prefix, ltxstate.HistoryMove) }
func (s *Store) previousKey() string { return path.Join(s.Prefix, ltxstate.HistoryPrevious) }

func (s *Store) removeMove(ctx context.Context) error { return s.remove(ctx, s.moveKey()) }

func (s *Store) remove(ctx context.Context, key string) error {
	err := s.client.RemoveObject(ctx, s.Bucket, key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return fmt.Errorf("remove %s: %w", key, err)
	}
	return nil
}

// MarkLocalPrevious is MoveLevels' previous object for a file:// replica
// directory, whose history moves by one rename: written before it, it
// names dest (an absolute directory).
func MarkLocalPrevious(dir, dest string) error {
	b, err := json.Marshal(move{To: dest})
	if err != nil {
		return err
	}
	p := filepath.Join(dir, ltxstate.HistoryPrevious)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// ClearLocalPrevious is ClearPrevious for a file:// replica directory.
func ClearLocalPrevious(dir string) error {
	if err := os.Remove(filepath.Join(dir, ltxstate.HistoryPrevious)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// LocalPrevious is Previous for a file:// replica directory.
func LocalPrevious(dir string) (string, error) {
	p := filepath.Join(dir, ltxstate.HistoryPrevious)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return parseMove(p, b)
}
