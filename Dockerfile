# litestream-sidecar: restore (init) and replicate (sidecar) in one image.
#
# Every stage is FROM scratch and only copies `make dist` output, so the image
# builds offline with buildah (CI: `make image-oci`) and identically with
# docker buildx (`make image`); nothing is compiled or downloaded here.
# dist/<arch>/ holds static binaries (cgo, -static) plus rootfs/ with the CA
# bundle and a passwd/group naming the non-root user 65532.
FROM scratch

ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
ARG CREATED=1970-01-01T00:00:00Z

COPY dist/${TARGETARCH}/rootfs/ /
COPY dist/${TARGETARCH}/restore dist/${TARGETARCH}/replicate /usr/local/bin/

LABEL org.opencontainers.image.title="litestream-sidecar" \
      org.opencontainers.image.description="Litestream restore initContainer and replicate sidecar for SQLite apps" \
      org.opencontainers.image.source="https://github.com/litestream-sidecar/litestream-sidecar" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${CREATED}"

ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Numeric so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 9090
# Same image, two roles: the sidecar is the default; the init container and
# the Nomad prestart task set the command to `restore`.
ENTRYPOINT ["/usr/local/bin/replicate"]
