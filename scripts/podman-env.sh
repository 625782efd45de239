# shellcheck shell=bash
# Shared by scripts/image.sh and scripts/image-test.sh (source it, don't run it).
#
# Makes podman usable on the machines this project runs on: Debian, root, no systemd,
# no Docker engine, no access to container registries. It installs podman from Debian
# when missing, points podman at a private containers.conf (cgroupfs, no default
# ulimits, events to a file) without touching /etc/containers, and can make the base
# images locally when a registry cannot be reached.

# log prints a progress line on stderr, prefixed with the calling script's name.
log() {
	printf '%s: %s\n' "${SCRIPT_NAME:-image}" "$*" >&2
}

# die prints an error and exits non-zero.
die() {
	printf '%s: FAIL: %s\n' "${SCRIPT_NAME:-image}" "$*" >&2
	exit 1
}

# apt_install installs Debian packages when apt-get exists and we are root. It runs
# apt-get update only when the first attempt fails (a new machine has no lists yet).
apt_install() {
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; then
		return 0
	fi
	apt-get update >/dev/null 2>&1 || true
	apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1
}

# write_containers_conf writes the private containers.conf and exports CONTAINERS_CONF.
# default_ulimits = [] because the packaged default asks for a nofile limit that a
# sandboxed machine may refuse; cgroupfs because there is no systemd to manage scopes.
write_containers_conf() {
	if [ -n "${PERFECT_CONTAINERS_CONF:-}" ] && [ -f "$PERFECT_CONTAINERS_CONF" ]; then
		export CONTAINERS_CONF="$PERFECT_CONTAINERS_CONF"
		return
	fi
	PERFECT_CONTAINERS_CONF="$(mktemp "${TMPDIR:-/tmp}/perfect-containers.XXXXXX.conf")"
	cat >"$PERFECT_CONTAINERS_CONF" <<-'EOF'
		[containers]
		default_ulimits = []
		log_driver = "k8s-file"

		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
	EOF
	export PERFECT_CONTAINERS_CONF
	export CONTAINERS_CONF="$PERFECT_CONTAINERS_CONF"
}

# pm runs podman with the settings above.
pm() {
	podman --cgroup-manager cgroupfs "$@"
}

# podman_ready installs and configures podman. On failure it returns 1 and leaves the
# reason in PODMAN_UNAVAILABLE, so the caller can decide between skipping and failing.
# shellcheck disable=SC2034 # PODMAN_UNAVAILABLE is read by the scripts that source this
podman_ready() {
	PODMAN_UNAVAILABLE=""
	if ! command -v podman >/dev/null 2>&1; then
		log "podman not found; installing it from Debian"
		if ! apt_install podman buildah runc uidmap slirp4netns fuse-overlayfs \
			containernetworking-plugins iptables; then
			PODMAN_UNAVAILABLE="podman is not installed and could not be installed (needs root and apt-get)"
			return 1
		fi
	fi
	write_containers_conf
	local info
	if ! info="$(pm info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}' 2>&1)"; then
		PODMAN_UNAVAILABLE="podman cannot run here: $(printf '%s' "$info" | tail -n 1)"
		return 1
	fi
	log "podman $(podman --version | awk '{print $3}') ($info)"
}

# dockerfile_arg prints the default of `ARG NAME=value` in the Dockerfile, so the
# pinned versions live in one place.
dockerfile_arg() {
	sed -n "s/^ARG $1=//p" "${2:-Dockerfile}" | head -n 1
}

# try_pull pulls an image with a time limit; registries that are unreachable answer
# at once here, but a slow one must not hang the build.
try_pull() {
	local image="$1"
	if pm image exists "$image"; then
		return 0
	fi
	log "pulling $image"
	timeout "${PULL_TIMEOUT:-90}" podman --cgroup-manager cgroupfs pull -q "$image" >/dev/null 2>&1
}

# local_go_builder makes (once) a Go build image from a minimal Debian made with
# debootstrap plus the Go toolchain of this machine, and prints its name.
local_go_builder() {
	local goroot gover tag rootfs mirror
	goroot="$(go env GOROOT 2>/dev/null)" || die "no Go toolchain on this machine to put in the local builder image"
	gover="$(go env GOVERSION)"
	gover="${gover#go}"
	tag="localhost/perfect-go-builder:${gover}-bookworm"
	if pm image exists "$tag"; then
		printf '%s\n' "$tag"
		return
	fi

	if ! command -v debootstrap >/dev/null 2>&1; then
		log "installing debootstrap"
		apt_install debootstrap || die "debootstrap is missing and could not be installed"
	fi
	mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
	rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/perfect-builder.XXXXXX")"
	log "making $tag: debootstrap bookworm (minbase) from $mirror, then Go $gover from $goroot"
	if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" \
		>"$rootfs.log" 2>&1; then
		tail -n 20 "$rootfs.log" >&2
		rm -rf "$rootfs" "$rootfs.log"
		die "debootstrap failed"
	fi
	rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"* "$rootfs.log"
	mkdir -p "$rootfs/usr/local" "$rootfs/go"
	cp -a "$goroot" "$rootfs/usr/local/go"

	tar -C "$rootfs" -c . | pm import \
		--change 'ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV GOPATH=/go' \
		--change 'ENV GOTOOLCHAIN=local' \
		--change 'WORKDIR /go' \
		- "$tag" >/dev/null
	rm -rf "$rootfs"
	printf '%s\n' "$tag"
}

# resolve_go_image prints the builder image to use: GO_IMAGE if given, else the
# Dockerfile's pinned image if it is here or can be pulled, else a local one.
resolve_go_image() {
	local pinned
	if [ -n "${GO_IMAGE:-}" ]; then
		printf '%s\n' "$GO_IMAGE"
		return
	fi
	pinned="$(dockerfile_arg GO_IMAGE)"
	if [ -n "$pinned" ] && try_pull "$pinned"; then
		printf '%s\n' "$pinned"
		return
	fi
	log "cannot pull $pinned; using a local builder image"
	local_go_builder
}

# resolve_runtime_image prints the final base image: RUNTIME_IMAGE if given, else the
# Dockerfile's pinned one if it is scratch, here or pullable, else scratch.
resolve_runtime_image() {
	local pinned
	if [ -n "${RUNTIME_IMAGE:-}" ]; then
		printf '%s\n' "$RUNTIME_IMAGE"
		return
	fi
	pinned="$(dockerfile_arg RUNTIME_IMAGE)"
	if [ -z "$pinned" ] || [ "$pinned" = scratch ] || try_pull "$pinned"; then
		printf '%s\n' "${pinned:-scratch}"
		return
	fi
	log "cannot pull $pinned; using scratch (the Dockerfile copies certificates and zoneinfo)"
	printf 'scratch\n'
}
