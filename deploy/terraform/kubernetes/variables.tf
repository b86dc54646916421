# Inputs. Kubernetes-shaped values (probes, resources, env, ports, security
# context) are passed through as Kubernetes writes them (camelCase keys), so
# what users know from the YAML carries over unchanged.

variable "name" {
  description = "The app's name: the prefix of every object (like namePrefix \"<name>-\" in deploy/k8s/overseerr)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be a DNS label of at most 40 characters (it prefixes object names)."
  }
}

variable "namespace" {
  description = "Namespace of every object; the module does not create it."
  type        = string
}

variable "monitoring" {
  description = <<-EOT
    Add the Prometheus Operator's PodMonitor and PrometheusRule
    (deploy/k8s/components/prometheus-operator). Needs the operator's CRDs:
    a cluster without them refuses both kinds, so the default leaves them out.
  EOT
  type        = bool
  default     = false
  nullable    = false
}

variable "render_only" {
  description = "Render the objects (output manifests) without applying them, e.g. to review or diff them."
  type        = bool
  default     = false
}

# ---- the app ----

variable "app_image" {
  description = "The app's image, e.g. sctx/overseerr:1.33.2."
  type        = string
}

variable "uid" {
  description = "uid every container runs as (restore and replicate too, so the restored database belongs to the app)."
  type        = number
  default     = 65532
  validation {
    condition     = var.uid > 0
    error_message = "uid must not be 0: the pod runs as non-root."
  }
}

variable "gid" {
  description = "gid every container runs as, and the pod's fsGroup."
  type        = number
  default     = 65532
}

variable "app_env" {
  description = "The app's env, a list of Kubernetes EnvVar objects ({name = \"TZ\", value = \"UTC\"}); order kept."
  type        = any
  default     = []
}

variable "app_ports" {
  description = "The app's container ports (Kubernetes ContainerPort objects)."
  type        = any
  default     = []
}

variable "app_readiness_probe" {
  description = "The app's readinessProbe (a Kubernetes Probe object), or null."
  type        = any
  default     = null
}

variable "app_liveness_probe" {
  description = "The app's livenessProbe, or null."
  type        = any
  default     = null
}

variable "app_startup_probe" {
  description = "The app's startupProbe, or null. It starts only after replicate's /startupz passed."
  type        = any
  default     = null
}

variable "app_resources" {
  description = "The app's resources (requests/limits), or null."
  type        = any
  default     = null
}

variable "app_security_context" {
  description = "The app container's securityContext (the pod already sets runAsNonRoot, uid/gid and seccomp)."
  type        = any
  default = {
    allowPrivilegeEscalation = false
    capabilities             = { drop = ["ALL"] }
  }
}

variable "config_volume" {
  description = <<-EOT
    The app's non-database state (settings, logs), mounted in the app container
    only at mount_path: a PVC (pvc: created by the module as "<name>-config"
    unless claim_name names an existing one) or a hostPath. null: none.
  EOT
  type = object({
    mount_path = string
    pvc = optional(object({
      claim_name         = optional(string)
      size               = optional(string, "1Gi")
      storage_class_name = optional(string)
      access_modes       = optional(list(string), ["ReadWriteOnce"])
    }))
    host_path = optional(object({
      path = string
      type = optional(string, "DirectoryOrCreate")
    }))
  })
  default = null
  validation {
    condition     = var.config_volume == null || (try(var.config_volume.pvc, null) == null) != (try(var.config_volume.host_path, null) == null)
    error_message = "config_volume takes exactly one of pvc and host_path."
  }
}

# ---- the database and its replica ----

variable "db_path" {
  description = "The SQLite file(s) the app uses, absolute paths in one directory (several: e.g. Sonarr's two, see Several databases in docs/design.md); DB_PATH."
  type        = list(string)
  validation {
    condition     = length(var.db_path) > 0 && alltrue([for p in var.db_path : can(regex("^/[^,]*[^/,]$", p))])
    error_message = "db_path takes one or more absolute file paths (no commas)."
  }
  validation {
    condition     = length(distinct([for p in var.db_path : basename(p)])) == length(var.db_path)
    error_message = "db_path: file names must differ, each is replicated to <replica_url>/<file name>."
  }
}

variable "data_mount_path" {
  description = "Where the database emptyDir is mounted in all three containers; default: the directory of db_path."
  type        = string
  default     = null
}

variable "replica_url" {
  description = "REPLICA_URL: s3://bucket/prefix (the prefix is required)."
  type        = string
  validation {
    condition     = can(regex("^(s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9]/[^/].*|file:///.+)$", var.replica_url))
    error_message = "replica_url must be s3://bucket/prefix with a prefix (or file:///dir)."
  }
}

variable "s3_endpoint" {
  description = "S3_ENDPOINT, e.g. http://minio.minio.svc.cluster.local:9000; null: AWS."
  type        = string
  default     = null
}

variable "config" {
  description = "More settings for restore and replicate (README's table), merged into their ConfigMap, e.g. {SYNC_INTERVAL = \"5s\"}."
  type        = map(string)
  default     = {}
  validation {
    condition     = length(setintersection(keys(var.config), ["DB_PATH", "REPLICA_URL", "S3_ENDPOINT", "SHUTDOWN_TIMEOUT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])) == 0
    error_message = "config: DB_PATH, REPLICA_URL, S3_ENDPOINT and SHUTDOWN_TIMEOUT have their own inputs; credentials come from credentials, never from the ConfigMap."
  }
}

variable "credentials" {
  description = <<-EOT
    The object store's keys, never in the ConfigMap: secret_name, an existing
    Secret with keys access-key-id and secret-access-key; or vault, an
    ExternalSecret (External Secrets Operator) reading them from a Vault path
    through a (Cluster)SecretStore, as deploy/k8s/components/vault-credentials.
  EOT
  type = object({
    secret_name = optional(string)
    vault = optional(object({
      path                = optional(string, "kv/litestream/minio")
      access_key_property = optional(string, "access_key_id")
      secret_key_property = optional(string, "secret_access_key")
      store_name          = optional(string, "vault")
      store_kind          = optional(string, "ClusterSecretStore")
      refresh_interval    = optional(string, "1h")
    }))
  })
  validation {
    condition     = (var.credentials.secret_name == null) != (var.credentials.vault == null)
    error_message = "credentials takes exactly one of secret_name and vault."
  }
}

# ---- the sidecar pair ----

variable "sidecar_image" {
  description = "restore/replicate image, repository[:tag][@digest]; null: the base's ghcr.io/litestream-sidecar/litestream-sidecar tag."
  type        = string
  default     = null
  validation {
    condition     = var.sidecar_image == null || can(regex("^[^:@]+(:[0-9A-Za-z_][-.0-9A-Za-z_]*)?(@sha256:[0-9a-f]{64})?$", replace(coalesce(var.sidecar_image, "x"), "/^([^/]+:[0-9]+)//", "")))
    error_message = "sidecar_image must be repository[:tag][@sha256:digest]."
  }
}

variable "shutdown_timeout" {
  description = "SHUTDOWN_TIMEOUT: replicate's final-sync budget after SIGTERM, e.g. 25s or 1m."
  type        = string
  default     = "25s"
  validation {
    condition     = can(regex("^([0-9]+m)?([0-9]+s)?$", var.shutdown_timeout)) && var.shutdown_timeout != ""
    error_message = "shutdown_timeout must be minutes and/or seconds, e.g. 25s, 1m or 1m30s."
  }
}

variable "termination_grace_period_seconds" {
  description = "The pod's grace period: covers the app's own stop plus shutdown_timeout (the sidecar stops after the app, within the same grace)."
  type        = number
  default     = 60
}
