# syntax=docker/dockerfile:1
#
# The jobplane image: static binaries (CGO_ENABLED=0) of the client and server
# services, the jobctl CLI and the container health probe, on a distroless
# base with no shell, running as an unprivileged user. bin/devstack and its
# embedded Kafka and MongoDB are development tools and are not in it.
#
#   docker build --target client -t jobplane/client .
#   docker build --target server -t jobplane/server .
#   docker build --target jobctl -t jobplane/jobctl .
#
# docker-compose.yml builds the client and server targets.

# The Go toolchain: at least the version in go.mod.
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so that editing the source does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/ \
        ./cmd/client ./cmd/server ./cmd/jobctl ./deploy/healthcheck

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532); nothing else.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532

FROM runtime AS client
# 8080 REST, /healthz, /readyz, /metrics; 50051 gRPC (with grpc.health.v1).
EXPOSE 8080 50051
ENTRYPOINT ["/usr/local/bin/client"]

FROM runtime AS jobctl
ENTRYPOINT ["/usr/local/bin/jobctl"]

# Last, so that a plain `docker build .` gives the server.
FROM runtime AS server
# 8090 admin: /healthz, /readyz, /metrics.
EXPOSE 8090
ENTRYPOINT ["/usr/local/bin/server"]
