# Overseerr (SQLite at /app/config/db/db.sqlite3) with restore + replicate:
# the same Deployment as deploy/k8s/overseerr (or overseerr-vault), rendered
# from the same kustomize base. The database lives on an emptyDir at
# /app/config/db; the rest of /app/config is a small PVC.
module "overseerr" {
  # Users: source = "git::https://github.com/litestream-sidecar/litestream-sidecar.git//deploy/terraform/kubernetes?ref=<tag>"
  source = "../../kubernetes"

  name        = "overseerr"
  namespace   = var.namespace
  render_only = var.render_only
  monitoring  = var.monitoring

  app_image = var.image
  uid       = 1000
  gid       = 1000
  app_env = [
    { name = "TZ", value = "UTC" },
    { name = "LOG_LEVEL", value = "info" },
  ]
  app_ports           = [{ name = "http", containerPort = 5055 }]
  app_readiness_probe = { httpGet = { path = "/api/v1/status", port = "http" }, periodSeconds = 10 }
  app_liveness_probe  = { httpGet = { path = "/api/v1/status", port = "http" }, periodSeconds = 30, failureThreshold = 5 }
  app_resources = {
    requests = { cpu = "100m", memory = "256Mi" }
    limits   = { memory = "1Gi" }
  }
  config_volume = {
    mount_path = "/app/config"
    pvc        = { size = "1Gi" }
  }

  db_path       = ["/app/config/db/db.sqlite3"]
  replica_url   = var.replica_url
  s3_endpoint   = var.s3_endpoint
  credentials   = local.credentials
  sidecar_image = var.sidecar_image
}
