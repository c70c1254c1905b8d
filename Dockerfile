# shp's container image: the shp binary (cgo, DuckDB) on a distroless base
# with glibc, running as a non-root user, with one shp project in /etc/shp.
#
#   make image                                   # VERSION from git describe
#   docker build --build-arg VERSION=v1.2.3 --build-arg PROJECT_DIR=path/to/project -t shp:v1.2.3 .
#
# Needs a Docker engine with BuildKit (the default builder since Docker 23):
# the RUN steps use cache mounts. deploy/dockerfile_test.go checks the rules
# this file keeps (pinned bases, non-root, exec-form ENTRYPOINT, no secrets)
# without an engine, and that a binary built the same way needs no newer
# glibc than the runtime base's (Debian 12: 2.36).
#
# The bases are pinned by tag, not by digest: digests cannot be looked up
# without a registry. Pin them by digest (golang:1.26.8-bookworm@sha256:...)
# in a registry-connected CI once the image is built there.

# ---- build: Go 1.26.8 (go.mod's go line) on Debian 12, gcc for cgo ----------
FROM golang:1.26.8-bookworm AS build

# Never download another Go toolchain during the build.
ENV GOTOOLCHAIN=local CGO_ENABLED=1

WORKDIR /src

# The module cache first, so that a source change does not download again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .

# The version stamped into the binary (shp version); make image passes
# git describe --tags --always --dirty, as make build does.
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -tags duckdb_arrow -trimpath \
      -ldflags "-X github.com/shp-dev/shp/internal/cli.Version=${VERSION}" \
      -o /out/shp ./cmd/shp \
 && /out/shp version

# The project the image serves: its YAML files, schemas and rules (never
# secrets: config.yaml reads them from the environment as ${VAR}). The
# default is deploy/project, the GCP sample the Terraform module's
# environment variables fill in.
ARG PROJECT_DIR=deploy/project
RUN mkdir -p /out/project \
 && cp -R "/src/${PROJECT_DIR}/." /out/project/ \
 && rm -rf /out/project/.shp \
 && mkdir -p /out/project/.shp

# ---- runtime: glibc 2.36, libstdc++ (DuckDB), CA certificates, no shell ------
FROM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=dev
LABEL org.opencontainers.image.title="shp" \
      org.opencontainers.image.description="shp, the self-healing data pipeline: pipelines, scheduler, REST API and web UI in one binary" \
      org.opencontainers.image.source="https://github.com/shp-dev/shp" \
      org.opencontainers.image.url="https://github.com/shp-dev/shp" \
      org.opencontainers.image.documentation="https://github.com/shp-dev/shp/blob/main/deploy/README.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build /out/shp /usr/local/bin/shp
# The project folder belongs to the runtime user: shp serve keeps its control
# socket in the project's .shp folder.
COPY --from=build --chown=65532:65532 /out/project /etc/shp

# distroless's nonroot user, by number so that Kubernetes' runAsNonRoot can
# verify it.
USER 65532:65532
WORKDIR /etc/shp

EXPOSE 8080

# No HEALTHCHECK: the image has no shell and no curl, and shp has no health
# subcommand (shp --help lists none), so a HEALTHCHECK here could not work.
# Cloud Run's and Kubernetes' probes call GET /healthz (alive) and GET /readyz
# (the metadata store answers) on port 8080 instead; the Terraform module in
# deploy/terraform sets them.

ENTRYPOINT ["/usr/local/bin/shp"]
CMD ["serve", "--config", "/etc/shp", "--api-listen", "0.0.0.0:8080"]
