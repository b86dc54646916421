output "deployment_name" {
  value = module.overseerr.deployment_name
}

output "credentials_secret_name" {
  value = module.overseerr.credentials_secret_name
}

output "metrics_port" {
  value = module.overseerr.metrics_port
}

output "manifests" {
  description = "The rendered objects (without the credentials Secret of secrets.tf)."
  value       = module.overseerr.manifests
}
