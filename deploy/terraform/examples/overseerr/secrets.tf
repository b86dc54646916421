# The object store's keys. As our service modules do: an ExternalSecret
# reading them from Vault (External Secrets Operator, ClusterSecretStore
# "vault"), rendered by the module from deploy/k8s/components/vault-credentials.
# A cluster without External Secrets (the cluster test) sets s3_access_key_id
# and s3_secret_access_key instead: they become a plain Secret here, shown as
# (sensitive value) in every plan.
locals {
  # Whether the keys were given is no secret; the keys are.
  use_vault   = nonsensitive(var.s3_access_key_id == null)
  secret_name = "overseerr-litestream-credentials"
  credentials = local.use_vault ? { secret_name = null, vault = { path = var.vault_path } } : { secret_name = local.secret_name, vault = null }
}

resource "kubectl_manifest" "credentials" {
  count = local.use_vault || var.render_only ? 0 : 1
  yaml_body = yamlencode({
    apiVersion = "v1"
    kind       = "Secret"
    metadata   = { name = local.secret_name, namespace = var.namespace }
    type       = "Opaque"
    # data, not stringData: the API server returns data, so a plan after
    # apply compares like with like.
    data = {
      access-key-id     = base64encode(var.s3_access_key_id)
      secret-access-key = base64encode(var.s3_secret_access_key)
    }
  })
  sensitive_fields = ["data"]
}
