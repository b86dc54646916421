package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/superfly/ltx"
)

// replicaLag returns, for each write committed at commits[i] (row id i+1),
// the time until the first L0 file holding it was uploaded; writes in no
// file are left out. Rows are testenv's ("row ID x…"), so a file's newest
// write is the largest ID in its decoded pages.
func (e *env) replicaLag(ctx context.Context, prefix string, commits []time.Time) ([]float64, int, error) {
	mc := e.m.Client()
	type l0 struct {
		key      string
		uploaded time.Time
		maxID    int
	}
	var files []l0
	for obj := range mc.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Prefix: prefix + "/0000/", Recursive: true}) {
		if obj.Err != nil {
			return nil, 0, obj.Err
		}
		if !strings.HasSuffix(obj.Key, ".ltx") {
			continue
		}
		r, err := mc.GetObject(ctx, e.bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			return nil, 0, err
		}
		maxID, err := newestWrite(r)
		r.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", obj.Key, err)
		}
		files = append(files, l0{key: obj.Key, uploaded: obj.LastModified, maxID: maxID})
	}
	slices.SortFunc(files, func(a, b l0) int { return strings.Compare(a.key, b.key) })
	var lags []float64
	k := 0
	for i, t := range commits {
		for k < len(files) && files[k].maxID < i+1 {
			k++
		}
		if k == len(files) {
			break
		}
		lags = append(lags, files[k].uploaded.Sub(t).Seconds())
	}
	return lags, len(files), nil
}

// writeRE finds a row's id in its body, testenv.Body.
var writeRE = regexp.MustCompile(`row (\d+) `)

// newestWrite decodes an LTX file and returns the largest write ID in its pages (-1 if none).
func newestWrite(r io.Reader) (int, error) {
	dec := ltx.NewDecoder(r)
	if err := dec.DecodeHeader(); err != nil {
		return 0, err
	}
	maxID := -1
	data := make([]byte, dec.Header().PageSize)
	var ph ltx.PageHeader
	for {
		if err := dec.DecodePage(&ph, data); err == io.EOF {
			return maxID, nil
		} else if err != nil {
			return 0, err
		}
		for _, m := range writeRE.FindAllSubmatch(data, -1) {
			if id, err := strconv.Atoi(string(m[1])); err == nil && id > maxID {
				maxID = id
			}
		}
	}
}
