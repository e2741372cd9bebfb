# syntax=docker/dockerfile:1.7
# One image for all three roles: the task definition picks the role with the command
# (`serve`, `pelican`, `emu`; `migrate` runs before each of them). Build for the tasks' architecture:
#   docker buildx build --platform linux/amd64 -t refarch .
# Both build stages run on the build machine's own platform and cross-compile, so a multi-platform
# build needs no emulation.

ARG GO_VERSION=1.26
ARG NODE_VERSION=20

# The embedding model's weights, fetched with npm and checked against the digest pinned in
# scripts/model.sh, the same script as `make model`, so the image and a laptop run the same model.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS model
COPY scripts/model.sh /usr/local/bin/model.sh
RUN REFARCH_MODEL_DIR=/opt/refarch/model model.sh

# The Amazon RDS CA bundle, which verify-full checks the database's certificate against (RDS
# certificates are not in the public trust store): from an npm package pinned by the SHA-256 of its
# tarball in scripts/rds-ca.sh, every certificate parsed and checked to be an RDS CA.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS rdsca
COPY scripts/rds-ca.sh /usr/local/bin/rds-ca.sh
RUN mkdir /out && rds-ca.sh /out/rds-global-bundle.pem

# A static Go binary: no libc, so it runs on the distroless static base.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# Stamped for `refarch version` and GET /version (.git is not in the build context, so the
# release passes them; a plain local build says dev/unknown).
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_TIME=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -o /out/refarch \
      -ldflags="-s -w -X github.com/refarch/refarch/internal/buildinfo.version=${VERSION} -X github.com/refarch/refarch/internal/buildinfo.commit=${COMMIT} -X github.com/refarch/refarch/internal/buildinfo.buildTime=${BUILD_TIME}" .

# Runtime: CA certificates and nothing else (no shell, no package manager), as a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=model /opt/refarch/model /opt/refarch/model
COPY --from=rdsca /out/rds-global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
COPY --from=build /out/refarch /usr/local/bin/refarch
ENV REFARCH_ADDR=:8080 \
    REFARCH_EMBEDDER=use \
    REFARCH_MODEL_DIR=/opt/refarch/model \
    REFARCH_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080
# Three misses 15 s apart (45 s) leave the model time to load before a task counts as unhealthy.
HEALTHCHECK --interval=15s --timeout=5s --retries=3 CMD ["/usr/local/bin/refarch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/refarch"]
CMD ["serve"]
