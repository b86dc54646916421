terraform {
  required_version = ">= 1.6"
  required_providers {
    kustomization = {
      source  = "kbst/kustomization"
      version = "0.9.8"
    }
    kubectl = {
      source  = "gavinbunney/kubectl"
      version = "1.19.0"
    }
  }
}

# Both read the same kubeconfig. The kustomization provider only renders
# here (the data source), but it still wants a configuration.
provider "kustomization" {
  kubeconfig_path = var.kubeconfig_path
  context         = var.kube_context
}

provider "kubectl" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}
