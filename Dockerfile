# perfect: webhook receiver and email-sequence engine, as one static binary.
#
# Build:  make image          (scripts/image.sh: podman, works offline)
#         docker build -t perfect .
# Run:    docker run -p 127.0.0.1:8000:8000 -v perfect-data:/data perfect
#
# Both base images are pinned here and can be replaced with --build-arg:
#   GO_IMAGE       the Go toolchain used to compile (its Go must be >= the go line of go.mod)
#   RUNTIME_IMAGE  the base of the final image; scratch needs no pull. Everything the
#                  binary needs at run time (CA bundle, time zones, passwd, /data, /tmp)
#                  is copied from the build stage, so distroless/static works the same.
ARG GO_IMAGE=docker.io/library/golang:1.26.8-bookworm
ARG RUNTIME_IMAGE=scratch

FROM ${GO_IMAGE} AS build

# VERSION is printed by `perfect version` and reported by /health.
ARG VERSION=dev
# GOPROXY can point at a local module mirror (scripts/image.sh uses the host's module
# cache as a file:// proxy, so the build needs no network).
ARG GOPROXY=https://proxy.golang.org,direct

ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local \
    GOFLAGS=-buildvcs=false \
    GOMODCACHE=/cache/gomod \
    GOCACHE=/cache/gobuild

WORKDIR /src

COPY go.mod go.sum ./
RUN --mount=type=cache,target=/cache/gomod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/cache/gomod \
    --mount=type=cache,target=/cache/gobuild \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/perfect ./cmd/perfect

# The final image's file tree, built where there is a shell: a non-root user (65532,
# the distroless "nonroot" id), the data directory it owns, a sticky /tmp, the CA
# bundle for Notion/Resend/Prefect TLS and Go's own time-zone database.
RUN set -eu; \
    root=/out/rootfs; \
    mkdir -p "$root/etc/ssl/certs" "$root/usr/share" "$root/tmp" /out/data; \
    cp /out/perfect "$root/perfect"; \
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"; \
    cp "$(go env GOROOT)/lib/time/zoneinfo.zip" "$root/usr/share/zoneinfo.zip"; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n' \
        > "$root/etc/passwd"; \
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"; \
    chown 65532:65532 /out/data; \
    chmod 0750 /out/data; \
    chmod 1777 "$root/tmp"

FROM ${RUNTIME_IMAGE}

ARG VERSION=dev
LABEL org.opencontainers.image.title="perfect" \
      org.opencontainers.image.description="Webhook receiver and email-sequence engine" \
      org.opencontainers.image.version="${VERSION}"

COPY --from=build /out/rootfs/ /
# /data gets its owner from --chown: COPY --from does not keep the owner of the copied
# directory itself, and --chown applies to the destination because this line creates it
# (nothing above may create /data). A new named volume takes its owner from it.
COPY --from=build --chown=65532:65532 /out/data/ /data/

ENV PERFECT_DATA_DIR=/data \
    PORT=8000 \
    ZONEINFO=/usr/share/zoneinfo.zip

USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# /health answers 503 until the bbolt file is open, so a container that waits for the
# previous container's file lock stays "starting" and gets no traffic. The start period
# covers that wait (BOLT_OPEN_TIMEOUT) plus start-up.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/perfect", "healthcheck"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["/perfect"]
CMD ["serve"]
