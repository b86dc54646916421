# kbst/kustomize renders deploy/k8s/base (the kustomize base YAML users apply)
# with this module's inputs; gavinbunney/kubectl applies each rendered object.
# Not hashicorp/kubernetes: its kubernetes_deployment has no init container
# restart_policy (the native sidecar) before v3.0; see docs/deploy.md.
terraform {
  required_version = ">= 1.6"
  required_providers {
    kustomization = {
      source  = "kbst/kustomization"
      version = ">= 0.9.8, < 1.0.0"
    }
    kubectl = {
      source  = "gavinbunney/kubectl"
      version = ">= 1.19.0, < 2.0.0"
    }
  }
}
