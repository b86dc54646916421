output "deployment_name" {
  description = "The Deployment (one replica, Recreate)."
  value       = "${local.prefix}app"
}

output "namespace" {
  value = var.namespace
}

output "pod_selector" {
  description = "Labels selecting the app's pod, e.g. for a Service or a NetworkPolicy."
  value       = { "app.kubernetes.io/name" = "app" }
}

output "metrics_port" {
  description = "The replicate sidecar's named port (metrics, /healthz, /readyz, /startupz, /status)."
  value       = { name = "metrics", port = 9090 }
}

output "credentials_secret_name" {
  description = "The Secret the pods read the object store's keys from (created by External Secrets in vault mode)."
  value       = coalesce(var.credentials.secret_name, "litestream-credentials")
}

output "config_claim_name" {
  description = "The config PVC's name, or null."
  value       = local.pvc_name
}

output "manifests" {
  description = "Every object the module applies, by id (group/Kind/namespace/name), as JSON. No credential is rendered: they stay in their Secret."
  value       = local.manifests
}
