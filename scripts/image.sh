#!/usr/bin/env bash
# Build the perfect container image with podman (make image).
#
# Works where no container registry can be reached: the Go builder image is pulled if
# possible and otherwise made locally (debootstrap + this machine's Go), the final
# stage is FROM scratch, and Go modules come from this machine's module cache, mounted
# into the build as a file:// GOPROXY (falling back to the real proxy).
#
# Environment:
#   IMAGE          tag to build                 (default localhost/perfect:dev)
#   VERSION        version stamped in the binary (default: git describe, else "dev")
#   GO_IMAGE       builder image                 (default: Dockerfile's, else local)
#   RUNTIME_IMAGE  base of the final image       (default: Dockerfile's, else scratch)
#   CONTEXT_DIR    build context                 (default: the repository root)
#   PULL_TIMEOUT   seconds allowed for one pull  (default 90)
#   NO_CACHE=1     rebuild every layer (the Go caches still apply unless removed)
#
# Prints the image name on stdout; progress goes to stderr.
set -euo pipefail

SCRIPT_NAME=image
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/podman-env.sh
. "$ROOT/scripts/podman-env.sh"

main() {
	local context image version go_image runtime_image modcache started elapsed size
	local -a cache_flags=(--layers)
	if [ "${NO_CACHE:-}" = 1 ]; then
		cache_flags=(--no-cache)
	fi
	context="${CONTEXT_DIR:-$ROOT}"
	image="${IMAGE:-localhost/perfect:dev}"
	version="${VERSION:-$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo dev)}"
	cd "$context"
	[ -f Dockerfile ] || die "no Dockerfile in $context"

	if ! podman_ready; then
		die "$PODMAN_UNAVAILABLE"
	fi

	go_image="$(resolve_go_image)"
	runtime_image="$(resolve_runtime_image)"
	modcache="$(host_module_proxy "$context")"

	log "building $image (version $version) from $go_image on $runtime_image"
	started=$(date +%s)
	pm build \
		--format docker \
		"${cache_flags[@]}" \
		--pull=missing \
		--network host \
		--file Dockerfile \
		--tag "$image" \
		--build-arg GO_IMAGE="$go_image" \
		--build-arg RUNTIME_IMAGE="$runtime_image" \
		--build-arg VERSION="$version" \
		--build-arg GOPROXY="file:///goproxy,https://proxy.golang.org,direct" \
		--volume "$modcache:/goproxy:ro" \
		. >&2 || die "podman build failed"
	elapsed=$(($(date +%s) - started))

	size="$(pm image inspect --format '{{.Size}}' "$image")"
	log "built $image in ${elapsed}s, $(human_size "$size")"
	printf '%s\n' "$image"
}

# host_module_proxy fills this machine's module cache with every module the build
# list needs and prints its download directory, which is a valid file:// GOPROXY.
host_module_proxy() {
	local dir
	command -v go >/dev/null 2>&1 || die "go is needed on this machine to fetch the modules"
	(cd "$1" && GOFLAGS=-mod=mod go mod download) || die "go mod download failed"
	dir="$(go env GOMODCACHE)/cache/download"
	[ -d "$dir" ] || die "no module cache at $dir"
	printf '%s\n' "$dir"
}

# human_size prints a byte count in MB with one decimal.
human_size() {
	awk -v b="$1" 'BEGIN { printf "%.1f MB (%d bytes)", b / 1000000, b }'
}

main "$@"
