package bucket

import (
	"context"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/litestream-sidecar/litestream-sidecar/pkg/ltxstate"
)

// MoveLevels copies every object in the prefix's LTX level directories to
// dest (a key prefix), then deletes the originals, so that a crash leaves
// duplicates, never a gap. It returns how many objects moved.
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
	for _, k := range keys {
		if err := s.Client.RemoveObject(ctx, s.Bucket, k, minio.RemoveObjectOptions{}); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
