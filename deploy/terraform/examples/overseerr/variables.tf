variable "kubeconfig_path" {
  type    = string
  default = "~/.kube/config"
}

variable "kube_context" {
  type    = string
  default = null
}

variable "namespace" {
  type    = string
  default = "overseerr"
}

variable "image" {
  description = "Overseerr's image."
  type        = string
  default     = "sctx/overseerr:1.33.2"
}

variable "sidecar_image" {
  description = "restore/replicate image; null: the module's pinned release."
  type        = string
  default     = null
}

variable "replica_url" {
  type    = string
  default = "s3://litestream/overseerr"
}

variable "s3_endpoint" {
  type    = string
  default = "http://minio.minio.svc.cluster.local:9000"
}

variable "vault_path" {
  description = "Vault KV path holding access_key_id and secret_access_key (secrets.tf)."
  type        = string
  default     = "kv/litestream/minio"
}

variable "s3_access_key_id" {
  description = "Only for a cluster without External Secrets: the keys as a plain Secret (secrets.tf). null: Vault."
  type        = string
  default     = null
  sensitive   = true
}

variable "s3_secret_access_key" {
  type      = string
  default   = null
  sensitive = true
}

variable "monitoring" {
  description = "Add the PodMonitor and PrometheusRule; true only where the Prometheus Operator (its CRDs) is installed."
  type        = bool
  default     = false
}

variable "render_only" {
  description = "Render the objects (output manifests) without applying them."
  type        = bool
  default     = false
}
