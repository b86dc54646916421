#!/usr/bin/env bash
# Static checks of deploy/terraform (make terraform-test): `tofu fmt -check`,
# then `tofu init` + `tofu validate` of the module and of every example. They
# run on a copy of deploy/ (the module reaches deploy/k8s by a relative path),
# so init's .terraform/ and lock files never land in the working tree.
# Providers come from the filesystem mirror TF_CLI_CONFIG_FILE names
# (mk/terraform.mk).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
tofu="${TOFU_BIN:-}"
[ -x "$tofu" ] || { echo "terraform: TOFU_BIN '$tofu' is not an executable (make terraform-tools builds it)" >&2; exit 1; }
[ -f "${TF_CLI_CONFIG_FILE:-}" ] || { echo "terraform: TF_CLI_CONFIG_FILE '${TF_CLI_CONFIG_FILE:-}' missing (make terraform-tools writes it)" >&2; exit 1; }
export TF_IN_AUTOMATION=1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# OpenTofu creates $HOME/.terraform.d at every start: keep it out of the
# user's home.
export HOME="$tmp/home"
"$tofu" version
"$tofu" fmt -check -recursive -diff "$repo/deploy/terraform"
echo "terraform: fmt ok"

mkdir -p "$tmp/deploy"
cp -r "$repo/deploy/k8s" "$repo/deploy/terraform" "$tmp/deploy/"
for d in "$tmp"/deploy/terraform/kubernetes "$tmp"/deploy/terraform/examples/*/; do
	name="${d#"$tmp"/}"
	"$tofu" -chdir="$d" init -backend=false -input=false -no-color >"$tmp/init.log" 2>&1 ||
		{ cat "$tmp/init.log" >&2; echo "terraform: init $name failed" >&2; exit 1; }
	"$tofu" -chdir="$d" validate -no-color
	echo "terraform: validate ${name%/} ok"
done
