package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/s3"
	_ "github.com/mattn/go-sqlite3" // generation speed; closed before Litestream opens the file

	"github.com/litestream-sidecar/litestream-sidecar/internal/testenv"
)

// generate writes a database of at least size bytes: "text" rows that
// compress about 3x per page, or "blob" rows of random bytes that do not.
func generate(path, kind string, size int64) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=OFF&_synchronous=OFF&cache_size=-65536")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT, blob BLOB)`); err != nil {
		return err
	}
	texts := sampleTexts()
	r := mrand.New(mrand.NewPCG(7, 11))
	blob := make([]byte, 3900)
	for id := 1; ; {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		st, err := tx.Prepare(`INSERT INTO items (id, body, blob) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		for range 5000 {
			if kind == "blob" {
				rand.Read(blob)
				_, err = st.Exec(id, nil, blob)
			} else {
				_, err = st.Exec(id, texts[r.IntN(len(texts))], nil)
			}
			if err != nil {
				return err
			}
			id++
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
		var pages, pageSize int64
		if err := db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
			return err
		}
		if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
			return err
		}
		if pages*pageSize >= size {
			return nil
		}
	}
}

// sampleTexts are 4096 rows of ~900 bytes drawn from a small vocabulary,
// so pages compress like ordinary text tables do.
func sampleTexts() []string {
	words := strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november
		oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu the of and to in is that for it
		as was with be by on not he this are or his from at which but have an they you were her she there been one`)
	r := mrand.New(mrand.NewPCG(1, 2))
	out := make([]string, 4096)
	for i := range out {
		var b strings.Builder
		for b.Len() < 900 {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
			if r.IntN(20) == 0 {
				fmt.Fprintf(&b, "%d ", r.Uint32())
			}
		}
		out[i] = b.String()
	}
	return out
}

// s3Client is Litestream's S3 client for bucket/prefix on the bench MinIO.
func s3Client(m *testenv.MinIO, bucket, prefix string) *s3.ReplicaClient {
	c := s3.NewReplicaClient()
	c.AccessKeyID, c.SecretAccessKey = testenv.AccessKey, testenv.SecretKey
	c.Bucket, c.Path, c.Region = bucket, prefix, "us-east-1"
	c.Endpoint, c.ForcePathStyle = m.Endpoint, true
	return c
}

// source is a database being replicated by the real Litestream library.
type source struct {
	ldb *litestream.DB
}

func openSource(ctx context.Context, path string, client litestream.ReplicaClient) (*source, error) {
	ldb := litestream.NewDB(path)
	ldb.MonitorInterval = 0 // the bench decides when to sync
	ldb.Logger = slog.New(slog.DiscardHandler)
	ldb.Replica = litestream.NewReplicaWithClient(ldb, client)
	if err := ldb.Open(); err != nil {
		return nil, err
	}
	return &source{ldb: ldb}, nil
}

func (s *source) sync(ctx context.Context) error { return s.ldb.SyncAndWait(ctx) }

func (s *source) snapshot(ctx context.Context) error {
	if err := s.ldb.SyncAndWait(ctx); err != nil {
		return err
	}
	_, err := s.ldb.Snapshot(ctx)
	return err
}

func (s *source) close(ctx context.Context) error { return s.ldb.Close(ctx) }

// replicateSnapshot ships path to bucket/prefix as a snapshot, the way a
// sidecar's first sync and snapshot would.
func replicateSnapshot(ctx context.Context, m *testenv.MinIO, bucket, prefix, path string) error {
	src, err := openSource(ctx, path, s3Client(m, bucket, prefix))
	if err != nil {
		return err
	}
	if err := src.snapshot(ctx); err != nil {
		src.close(ctx)
		return err
	}
	return src.close(ctx)
}
