// Package engine is the only place that builds Litestream objects (DB,
// Replica, Store, replica clients) from a Config, so that the restore and
// replicate paths talk to the bucket the same way.
package engine

import (
	"log/slog"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/s3"

	"github.com/litestream-sidecar/litestream-sidecar/internal/tlsenv"
	"github.com/litestream-sidecar/litestream-sidecar/pkg/config"
)

// NewClient returns the replica client for cfg's REPLICA_URL. It does not
// connect; Litestream's Init does, on first use.
func NewClient(cfg *config.Config, logger *slog.Logger) litestream.ReplicaClient {
	tlsenv.Apply(cfg.S3CAFile)
	loc := cfg.Location()
	if loc.Scheme == "file" {
		return file.NewReplicaClient(loc.Dir)
	}
	c := s3.NewReplicaClient()
	c.SetLogger(logger.WithGroup("s3"))
	c.AccessKeyID = cfg.AccessKeyID.Reveal()
	c.SecretAccessKey = cfg.SecretAccessKey.Reveal()
	c.Bucket = loc.Bucket
	c.Path = loc.Prefix
	c.Region = cfg.S3Region
	c.Endpoint = cfg.S3Endpoint
	c.ForcePathStyle = cfg.S3Endpoint != ""
	c.SkipVerify = cfg.S3SkipVerify
	return c
}

// NewStore wires the database at DB_PATH to client the way the sidecar
// runs it: one DB, one Replica, and a Store that runs compaction, snapshots
// and retention. Retention goes through the Store: Replica.EnforceRetention
// panics in v0.5.18.
func NewStore(cfg *config.Config, client litestream.ReplicaClient, logger *slog.Logger) (*litestream.Store, *litestream.DB) {
	db := litestream.NewDB(cfg.DBPath)
	db.Logger = logger.With("db", cfg.DBPath)
	db.ShutdownSyncTimeout = cfg.ShutdownTimeout

	r := litestream.NewReplicaWithClient(db, client)
	r.SyncInterval = cfg.SyncInterval
	db.Replica = r

	levels := make(litestream.CompactionLevels, len(litestream.DefaultCompactionLevels))
	for i, l := range litestream.DefaultCompactionLevels {
		lvl := *l
		levels[i] = &lvl
	}
	store := litestream.NewStore([]*litestream.DB{db}, levels)
	store.Logger = logger
	store.SnapshotInterval = cfg.SnapshotInterval
	store.SnapshotRetention = cfg.Retention
	store.SetShutdownSyncTimeout(cfg.ShutdownTimeout)
	return store, db
}
