# Renders deploy/k8s/base, the kustomize base the YAML users apply, with this
# module's inputs as a kustomize overlay written in HCL (kustomization_overlay:
# the same kinds of patches deploy/k8s/overseerr makes), then applies every
# rendered object with kubectl_manifest. No manifest is copied here, so the
# module cannot drift from the YAML (deploy/terraform_test.go compares them).

locals {
  # The module's own directory inside the repository: the base and the
  # component sit beside deploy/terraform (a git source fetches the whole repo).
  k8s        = "${path.module}/../../k8s"
  prefix     = "${var.name}-"
  data_mount = coalesce(var.data_mount_path, dirname(var.db_path[0]))

  shutdown_seconds = sum([
    60 * tonumber(coalesce(try(regex("([0-9]+)m", var.shutdown_timeout)[0], null), "0")),
    tonumber(coalesce(try(regex("([0-9]+)s", var.shutdown_timeout)[0], null), "0")),
  ])

  # repository[:tag][@digest]; a registry's :port is part of the repository.
  sidecar = var.sidecar_image == null ? null : {
    name   = regex("^(.*?)(?::[^:/@]+)?(?:@sha256:[0-9a-f]{64})?$", var.sidecar_image)[0]
    tag    = try(regex(":([^:/@]+)(?:@|$)", var.sidecar_image)[0], null)
    digest = try(regex("@(sha256:[0-9a-f]{64})$", var.sidecar_image)[0], null)
  }

  literals = merge(var.config, {
    DB_PATH          = join(",", var.db_path)
    REPLICA_URL      = var.replica_url
    SHUTDOWN_TIMEOUT = var.shutdown_timeout
  }, var.s3_endpoint == null ? {} : { S3_ENDPOINT = var.s3_endpoint })

  pvc_name = try(coalesce(var.config_volume.pvc.claim_name, "${local.prefix}config"), null)
  config_volumes = var.config_volume == null ? [] : [{ for k, v in {
    name                  = "config"
    persistentVolumeClaim = var.config_volume.pvc == null ? null : { claimName = local.pvc_name }
    hostPath              = var.config_volume.host_path
  } : k => v if v != null }]

  # The app container as a strategic-merge patch of the base's "app": unset
  # inputs are left out (a null in a strategic-merge patch deletes the field).
  app = { for k, v in {
    name            = "app"
    image           = var.app_image
    env             = length(var.app_env) > 0 ? var.app_env : null
    ports           = length(var.app_ports) > 0 ? var.app_ports : null
    readinessProbe  = var.app_readiness_probe
    livenessProbe   = var.app_liveness_probe
    startupProbe    = var.app_startup_probe
    securityContext = var.app_security_context
    volumeMounts    = var.config_volume == null ? null : [{ name = "config", mountPath = var.config_volume.mount_path }]
    resources       = var.app_resources
  } : k => v if v != null }

  deployment_patch = {
    apiVersion = "apps/v1"
    kind       = "Deployment"
    metadata   = { name = "app" }
    spec = { template = { spec = { for k, v in {
      securityContext               = { runAsUser = var.uid, runAsGroup = var.gid, fsGroup = var.gid }
      terminationGracePeriodSeconds = var.termination_grace_period_seconds
      containers                    = [local.app]
      volumes                       = length(local.config_volumes) > 0 ? local.config_volumes : null
    } : k => v if v != null } } }
  }

  # The database's emptyDir moves from the base's /data to the app's
  # directory, in restore, replicate and the app alike (deploy/k8s/overseerr
  # makes the same three replacements).
  data_mount_patch = [for p in [
    "/spec/template/spec/initContainers/0/volumeMounts/0/mountPath",
    "/spec/template/spec/initContainers/1/volumeMounts/0/mountPath",
    "/spec/template/spec/containers/0/volumeMounts/0/mountPath",
  ] : { op = "replace", path = p, value = local.data_mount }]

  vault = var.credentials.vault
  # Each component adds kinds a cluster serves only with its operator
  # installed (External Secrets, Prometheus Operator), so each is an input.
  components = concat(
    local.vault == null ? [] : ["${local.k8s}/components/vault-credentials"],
    var.monitoring ? ["${local.k8s}/components/prometheus-operator"] : [],
  )
  externalsecret_patch = local.vault == null ? null : [
    { op = "replace", path = "/spec/refreshInterval", value = local.vault.refresh_interval },
    { op = "replace", path = "/spec/secretStoreRef", value = { kind = local.vault.store_kind, name = local.vault.store_name } },
    { op = "replace", path = "/spec/data/0/remoteRef", value = { key = local.vault.path, property = local.vault.access_key_property } },
    { op = "replace", path = "/spec/data/1/remoteRef", value = { key = local.vault.path, property = local.vault.secret_key_property } },
  ]
}

data "kustomization_overlay" "this" {
  resources   = ["${local.k8s}/base"]
  components  = local.components
  namespace   = var.namespace
  name_prefix = local.prefix

  dynamic "images" {
    for_each = local.sidecar == null ? [] : [local.sidecar]
    content {
      name     = "ghcr.io/litestream-sidecar/litestream-sidecar"
      new_name = images.value.name
      new_tag  = images.value.tag
      digest   = images.value.digest
    }
  }

  config_map_generator {
    name     = "litestream-sidecar"
    behavior = "merge"
    literals = [for k in sort(keys(local.literals)) : "${k}=${local.literals[k]}"]
  }

  patches {
    target {
      kind = "Deployment"
      name = "app"
    }
    patch = jsonencode(local.data_mount_patch)
  }

  # An existing Secret: the base's placeholder Secret is dropped and the
  # credentials volume points at the user's Secret instead.
  dynamic "patches" {
    for_each = var.credentials.secret_name == null ? [] : [var.credentials.secret_name]
    content {
      patch = <<-EOT
        $patch: delete
        apiVersion: v1
        kind: Secret
        metadata:
          name: litestream-credentials
      EOT
    }
  }
  dynamic "patches" {
    for_each = var.credentials.secret_name == null ? [] : [var.credentials.secret_name]
    content {
      target {
        kind = "Deployment"
        name = "app"
      }
      patch = jsonencode([{ op = "replace", path = "/spec/template/spec/volumes/2/secret/secretName", value = patches.value }])
    }
  }

  dynamic "patches" {
    for_each = local.externalsecret_patch == null ? [] : [local.externalsecret_patch]
    content {
      target {
        group = "external-secrets.io"
        kind  = "ExternalSecret"
        name  = "litestream-credentials"
      }
      patch = jsonencode(patches.value)
    }
  }

  patches {
    patch = jsonencode(local.deployment_patch)
  }

  lifecycle {
    precondition {
      condition     = var.termination_grace_period_seconds > local.shutdown_seconds
      error_message = "termination_grace_period_seconds must exceed shutdown_timeout: the kubelet kills replicate when the grace period ends, cutting its final sync short."
    }
    precondition {
      condition     = alltrue([for p in var.db_path : dirname(p) == local.data_mount])
      error_message = "every db_path must be a file directly in data_mount_path (the one emptyDir restore fills and the app uses)."
    }
  }
}

locals {
  # The config PVC is not in the base (each app sizes its own), so it is
  # built here, as deploy/k8s/overseerr/pvc.yaml writes it.
  pvc = try(var.config_volume.pvc.claim_name == null, false) ? {
    "_/PersistentVolumeClaim/${var.namespace}/${local.pvc_name}" = jsonencode({
      apiVersion = "v1"
      kind       = "PersistentVolumeClaim"
      metadata   = { name = local.pvc_name, namespace = var.namespace }
      spec = { for k, v in {
        accessModes      = var.config_volume.pvc.access_modes
        resources        = { requests = { storage = var.config_volume.pvc.size } }
        storageClassName = var.config_volume.pvc.storage_class_name
      } : k => v if v != null }
    })
  } : {}

  manifests = merge(data.kustomization_overlay.this.manifests, local.pvc)
  # Apply order: the Deployment last, once its ConfigMap, Secret or
  # ExternalSecret and PVC exist, so its first pod does not start without them.
  apply        = var.render_only ? {} : local.manifests
  workloads    = toset([for id in keys(local.apply) : id if startswith(id, "apps/Deployment/")])
  dependencies = setsubtract(keys(local.apply), local.workloads)
}

resource "kubectl_manifest" "objects" {
  for_each  = local.dependencies
  yaml_body = local.manifests[each.value]
}

resource "kubectl_manifest" "workloads" {
  for_each  = local.workloads
  yaml_body = local.manifests[each.value]
  # apply waits for the rollout: the new pod ran restore and its sidecar
  # passed /startupz and the app became Ready, or apply fails and says so.
  wait_for_rollout = true
  depends_on       = [kubectl_manifest.objects]
}
