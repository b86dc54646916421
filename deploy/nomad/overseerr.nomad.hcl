# Overseerr with litestream-sidecar on Nomad (>= 1.7, docker driver, Vault
# workload identity, Consul). Same image and variables as Kubernetes:
#   restore   prestart task       -> restores DB_PATH, exits 0
#   replicate prestart sidecar    -> replicates until stopped after the app
#   overseerr main task
# Every docker task sees the allocation directory at /alloc; the database is
# on the group's ephemeral disk, so DB_PATH is the same path in every task.
# No node constraints: the replica, not a node, holds the data.
job "overseerr" {
  type = "service"

  group "overseerr" {
    # One writer per replica prefix (the lease makes a second one wait).
    count = 1

    update {
      max_parallel = 1
      # Stop the old alloc (final sync) before starting the new one.
      canary = 0
    }

    ephemeral_disk {
      size    = 1024 # MB
      sticky  = true # reuse the local copy when rescheduled on the same node
      migrate = true # carry it along when possible; restore covers the rest
    }

    network {
      mode = "bridge"
      port "http" {
        to = 5055
      }
      port "metrics" {
        to = 9090
      }
    }

    # Vault workload identity; the role must allow reading kv/data/litestream/minio.
    vault {
      role = "litestream-sidecar"
    }

    task "restore" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image   = "ghcr.io/litestream-sidecar/litestream-sidecar:v0.1.0"
        command = "/usr/local/bin/restore"
      }

      env {
        DB_PATH                    = "/alloc/data/overseerr/db/db.sqlite3"
        REPLICA_URL                = "s3://litestream/overseerr"
        S3_ENDPOINT                = "http://minio.service.consul:9000"
        LOG_FORMAT                 = "json"
        RESTORE_IF_REPLICA_MISSING = "new"
        TMPDIR                     = "/local"
      }

      template {
        data        = <<-EOT
          {{ with secret "kv/data/litestream/minio" }}
          AWS_ACCESS_KEY_ID={{ .Data.data.access_key_id }}
          AWS_SECRET_ACCESS_KEY={{ .Data.data.secret_access_key }}
          {{ end }}
        EOT
        destination = "secrets/minio.env"
        env         = true
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }

    task "replicate" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      config {
        image   = "ghcr.io/litestream-sidecar/litestream-sidecar:v0.1.0"
        command = "/usr/local/bin/replicate"
        ports   = ["metrics"]
      }

      env {
        DB_PATH          = "/alloc/data/overseerr/db/db.sqlite3"
        REPLICA_URL      = "s3://litestream/overseerr"
        S3_ENDPOINT      = "http://minio.service.consul:9000"
        LOG_FORMAT       = "json"
        METRICS_ADDR     = ":9090"
        SHUTDOWN_TIMEOUT = "25s"
        TMPDIR           = "/local"
      }

      template {
        data        = <<-EOT
          {{ with secret "kv/data/litestream/minio" }}
          AWS_ACCESS_KEY_ID={{ .Data.data.access_key_id }}
          AWS_SECRET_ACCESS_KEY={{ .Data.data.secret_access_key }}
          {{ end }}
        EOT
        destination = "secrets/minio.env"
        env         = true
      }

      # Above SHUTDOWN_TIMEOUT so the final sync finishes before SIGKILL.
      # Nomad clients cap this at max_kill_timeout (30s by default).
      kill_timeout = "30s"
      kill_signal  = "SIGTERM"

      service {
        name     = "overseerr-litestream"
        port     = "metrics"
        provider = "consul"
        tags     = ["metrics", "litestream-sidecar"]

        check {
          name     = "replicate ready"
          type     = "http"
          path     = "/readyz"
          interval = "10s"
          timeout  = "3s"
        }
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }

    task "overseerr" {
      driver = "docker"

      config {
        image = "sctx/overseerr:1.33.2"
        ports = ["http"]
      }

      env {
        # Overseerr keeps settings.json, logs and db/db.sqlite3 here.
        CONFIG_DIRECTORY = "/alloc/data/overseerr"
        TZ               = "UTC"
      }

      kill_timeout = "20s"

      service {
        name     = "overseerr"
        port     = "http"
        provider = "consul"

        check {
          type     = "http"
          path     = "/api/v1/status"
          interval = "10s"
          timeout  = "3s"
        }
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
