# The cluster test's inputs to deploy/terraform/examples/overseerr
# (internal/cluster/terraform_test.go): what deploy/k8s/test-cluster changes
# for the kustomize path, through the example's variables only: our image
# built locally, Overseerr replaced by internal/cluster/standin, MinIO on the
# node address (ci/cluster/env.sh).
# The test MinIO's keys are not here: the tests pass them as TF_VAR_
# variables (sensitive), which makes secrets.tf create a plain Secret.
image         = "localhost/overseerr-standin:cluster-test"
sidecar_image = "localhost/litestream-sidecar:cluster-test"
s3_endpoint   = "http://10.77.0.1:9000"
