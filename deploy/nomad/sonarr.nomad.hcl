# Sonarr with litestream-sidecar on Nomad (>= 1.7, docker driver, Vault
# workload identity, Consul): one restore and one replicate serve both of
# Sonarr's databases. DB_PATH lists them; each replicates to
# REPLICA_URL/<file name> (s3://litestream/sonarr/sonarr.db and .../logs.db),
# an ordinary single-database replica of its own. Radarr, Lidarr and Prowlarr
# are the same with their own names and ports.
#   restore   prestart task       -> restores both databases, exits 0
#   replicate prestart sidecar    -> replicates both until stopped after the app
#   sonarr    main task
# Sonarr keeps its databases in its data directory (/config in the image),
# which is the alloc's /alloc/data/sonarr bind-mounted, so DB_PATH's files are
# the ones Sonarr opens. config.xml there is rewritten at each start from the
# SONARR__* environment (the API key from Vault, so Prowlarr and Overseerr keep
# working); logs/, MediaCover/ and Backups/ are caches.
# No node constraints: the replica, not a node, holds the data.
job "sonarr" {
  type = "service"

  group "sonarr" {
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
        to = 8989
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
        DB_PATH                    = "/alloc/data/sonarr/sonarr.db,/alloc/data/sonarr/logs.db"
        REPLICA_URL                = "s3://litestream/sonarr"
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
        DB_PATH          = "/alloc/data/sonarr/sonarr.db,/alloc/data/sonarr/logs.db"
        REPLICA_URL      = "s3://litestream/sonarr"
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
        name     = "sonarr-litestream"
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

    task "sonarr" {
      driver = "docker"

      config {
        image = "ghcr.io/home-operations/sonarr:4.0.14.2938"
        ports = ["http"]
        # Relative to the task directory: the alloc's shared data directory,
        # where restore put the databases, is Sonarr's /config.
        volumes = ["../alloc/data/sonarr:/config"]
      }

      env {
        TZ                   = "UTC"
        SONARR__SERVER__PORT = "8989"
      }

      template {
        data        = <<-EOT
          {{ with secret "kv/data/sonarr" }}
          SONARR__AUTH__APIKEY={{ .Data.data.api_key }}
          {{ end }}
        EOT
        destination = "secrets/sonarr.env"
        env         = true
      }

      kill_timeout = "20s"

      service {
        name     = "sonarr"
        port     = "http"
        provider = "consul"

        check {
          type     = "http"
          path     = "/ping"
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
