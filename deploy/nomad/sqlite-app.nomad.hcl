# Template for "similar services": any app keeping one or several SQLite
# files, run with litestream-sidecar. Copy, then set the variables
# (nomad job run -var ...). The app must find its databases at
# var.db_paths, inside /alloc/data (the group's ephemeral disk, visible to
# every docker task at the same path). With several, each replicates to
# var.replica_url/<file name>; sonarr.nomad.hcl is a worked example.
variable "name" {
  type    = string
  default = "sqlite-app"
}

variable "app_image" {
  type    = string
  default = "example/app:latest"
}

variable "app_port" {
  type    = number
  default = 8080
}

variable "db_paths" {
  type    = list(string)
  default = ["/alloc/data/app/app.db"]
}

variable "replica_url" {
  type    = string
  default = "s3://litestream/sqlite-app"
}

variable "s3_endpoint" {
  type    = string
  default = "http://minio.service.consul:9000"
}

variable "sidecar_image" {
  type    = string
  default = "ghcr.io/litestream-sidecar/litestream-sidecar:v0.1.0"
}

variable "vault_secret" {
  type    = string
  default = "kv/data/litestream/minio"
}

locals {
  # DB_PATH's form: one path, or several separated by commas.
  db_path = join(",", var.db_paths)
  credentials = <<-EOT
    {{ with secret "${var.vault_secret}" }}
    AWS_ACCESS_KEY_ID={{ .Data.data.access_key_id }}
    AWS_SECRET_ACCESS_KEY={{ .Data.data.secret_access_key }}
    {{ end }}
  EOT
}

job "sqlite-app" {
  name = var.name
  type = "service"

  group "app" {
    count = 1

    ephemeral_disk {
      size    = 1024
      sticky  = true
      migrate = true
    }

    network {
      mode = "bridge"
      port "http" {
        to = var.app_port
      }
      port "metrics" {
        to = 9090
      }
    }

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
        image   = var.sidecar_image
        command = "/usr/local/bin/restore"
      }
      env {
        DB_PATH     = local.db_path
        REPLICA_URL = var.replica_url
        S3_ENDPOINT = var.s3_endpoint
        LOG_FORMAT  = "json"
        TMPDIR      = "/local"
      }
      template {
        data        = local.credentials
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
        image   = var.sidecar_image
        command = "/usr/local/bin/replicate"
        ports   = ["metrics"]
      }
      env {
        DB_PATH          = local.db_path
        REPLICA_URL      = var.replica_url
        S3_ENDPOINT      = var.s3_endpoint
        LOG_FORMAT       = "json"
        METRICS_ADDR     = ":9090"
        SHUTDOWN_TIMEOUT = "25s"
        TMPDIR           = "/local"
      }
      template {
        data        = local.credentials
        destination = "secrets/minio.env"
        env         = true
      }
      kill_timeout = "30s" # above SHUTDOWN_TIMEOUT, within the default max_kill_timeout
      service {
        name     = "${var.name}-litestream"
        port     = "metrics"
        provider = "consul"
        check {
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

    task "app" {
      driver = "docker"
      config {
        image = var.app_image
        ports = ["http"]
      }
      env {
        # For an app that takes its database paths from the environment;
        # otherwise configure the app to open var.db_paths.
        DB_PATH = local.db_path
      }
      kill_timeout = "20s"
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
