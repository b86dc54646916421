package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
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
// S3 has no rename, and the deletes run one by one in listing order, level
// 0 first. A crash between two of them would leave the higher levels alone
// (a compacted file, a snapshot), which read as a complete but shorter
// history: a restore would return that older position as the latest, and
// the sidecar's lineage guard would refuse its own copy. So the deletes
// run only while the move object (ltxstate.HistoryMove) names dest, which
// holds every object by then. Readers that find it take the prefix as
// being moved: restore refuses and names dest; the sidecar, under the
// lease, finishes the move (FinishMove).
func (s *Store) MoveLevels(ctx context.Context, dest string) (int, error) {
	var keys []string
	for obj := range s.Client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: s.Prefix + "/", Recursive: true}) {
		if obj.Err != nil {
			return 0, obj.Err
		}
		if rel := strings.TrimPrefix(obj.Key, s.Prefix+"/"); ltxstate.LevelKey.MatchString(rel) {
			keys = append(keys, obj.Key)
		}
	}
	for _, k := range keys {
		dst := minio.CopyDestOptions{Bucket: s.Bucket, Object: dest + "/" + strings.TrimPrefix(k, s.Prefix+"/")}
		if _, err := s.Client.CopyObject(ctx, dst, minio.CopySrcOptions{Bucket: s.Bucket, Object: k}); err != nil {
			return 0, err
		}
	}
	if len(keys) == 0 {
		return 0, s.removeMove(ctx)
	}
	b, err := json.Marshal(move{To: dest})
	if err != nil {
		return 0, err
	}
	if _, err := s.Client.PutObject(ctx, s.Bucket, s.moveKey(), bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		return 0, fmt.Errorf("write %s: %w", s.moveKey(), err)
	}
	for _, k := range keys {
		if err := s.Client.RemoveObject(ctx, s.Bucket, k, minio.RemoveObjectOptions{}); err != nil {
			return 0, err
		}
	}
	return len(keys), s.removeMove(ctx)
}

// PendingMove returns the destination of a move of the history that
// began and did not finish (the move object present), "" when there is none.
func (s *Store) PendingMove(ctx context.Context) (string, error) {
	b, _, ok, err := s.ReadSmall(ctx, s.moveKey(), 64<<10)
	if err != nil || !ok {
		return "", err
	}
	var m move
	if err := json.Unmarshal(b, &m); err != nil || m.To == "" {
		return "", fmt.Errorf("%w: %s holds %q: remove it by hand once the prefix is as it should be", ErrBadMove, s.moveKey(), b)
	}
	return m.To, nil
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
	if _, err := s.MoveLevels(ctx, dest); err != nil {
		return "", err
	}
	return dest, nil
}

func (s *Store) moveKey() string { return path.Join(s.Prefix, ltxstate.HistoryMove) }

func (s *Store) removeMove(ctx context.Context) error {
	err := s.Client.RemoveObject(ctx, s.Bucket, s.moveKey(), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return fmt.Errorf("remove %s: %w", s.moveKey(), err)
	}
	return nil
}
