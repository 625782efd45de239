#!/usr/bin/env bash
# Build the image and check it the way Coolify will run it (make image-test).
#
# Checks, in order: image metadata (non-root user, HEALTHCHECK, STOPSIGNAL, port 8000,
# /data volume), `perfect version`, the image size (< 25 MB), start-up to a healthy
# /health, `podman healthcheck run`, the process user, a legacy christmas-signup
# webhook, the run in the admin API, a graceful stop (exit 0 on SIGTERM), data kept
# across a restart on the same volume, and a redeploy overlap: a second container on
# the same volume stays unhealthy while the first holds the data file, and takes over
# once the first stops.
#
# Exits non-zero with "image-test: FAIL: ..." on any failure. Prints
# "image-test: SKIP: <reason>" and exits 0 only where podman cannot run at all.
#
# Environment: IMAGE, VERSION, GO_IMAGE, RUNTIME_IMAGE as for scripts/image.sh;
# IMAGE_TEST_NO_BUILD=1 tests an already built IMAGE; MAX_IMAGE_BYTES (25000000).
set -euo pipefail

SCRIPT_NAME="image-test"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/podman-env.sh
. "$ROOT/scripts/podman-env.sh"

FIXTURE="$ROOT/internal/deploy/testdata/christmas-signup.json"
ADMIN_TOKEN_VALUE="image-test-token"
MAX_IMAGE_BYTES="${MAX_IMAGE_BYTES:-25000000}"
RUN_ID="perfect-image-test-$$"
VOLUME="$RUN_ID-data"
FIRST="$RUN_ID-a"
SECOND="$RUN_ID-b"

main() {
	local image version started build_secs size email
	image="${IMAGE:-localhost/perfect:image-test}"
	version="${VERSION:-$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo dev)}"

	if ! podman_ready; then
		printf 'image-test: SKIP: %s\n' "$PODMAN_UNAVAILABLE"
		exit 0
	fi
	command -v curl >/dev/null 2>&1 || apt_install curl || die "curl is needed"
	command -v jq >/dev/null 2>&1 || apt_install jq || die "jq is needed"
	[ -f "$FIXTURE" ] || die "missing fixture $FIXTURE"

	trap cleanup EXIT
	started=$(date +%s)
	if [ "${IMAGE_TEST_NO_BUILD:-}" != 1 ]; then
		IMAGE="$image" VERSION="$version" "$ROOT/scripts/image.sh" >/dev/null
	fi
	build_secs=$(($(date +%s) - started))

	check_metadata "$image"
	check_version "$image" "$version"
	size="$(pm image inspect --format '{{.Size}}' "$image")"
	[ "$size" -lt "$MAX_IMAGE_BYTES" ] ||
		die "image is $(human_mb "$size"), over the limit of $(human_mb "$MAX_IMAGE_BYTES")"
	log "ok: image size $(human_mb "$size") (limit $(human_mb "$MAX_IMAGE_BYTES"))"

	pm volume create "$VOLUME" >/dev/null
	local port steps_before steps_after
	port="$(free_port)"
	start_container "$FIRST" "$port"
	wait_healthy "$FIRST" "$port"
	check_healthcheck_cmd "$FIRST"
	check_not_root "$FIRST"
	check_data_file_owner

	email="$(jq -r .email "$FIXTURE")"
	post_signup "$port"
	steps_before="$(step_ids "$port" "$email")"
	[ -n "$steps_before" ] || die "no steps listed for the signup in /admin/api/steps"
	log "ok: the signup planned $(wc -l <<<"$steps_before") step(s)"

	graceful_stop "$FIRST"
	pm start "$FIRST" >/dev/null 2>&1 || die "restart of $FIRST failed"
	wait_healthy "$FIRST" "$port"
	steps_after="$(step_ids "$port" "$email")"
	[ "$steps_before" = "$steps_after" ] ||
		die "steps differ after a restart on the same volume: before [$steps_before] after [$steps_after]"
	log "ok: the run survived a restart on the same volume"

	check_redeploy_overlap "$email" "$steps_before"

	log "PASS: image $image, version $version, $(human_mb "$size"), build ${build_secs}s, total $(($(date +%s) - started))s"
	printf 'image-test: size=%s build_seconds=%s result=pass\n' "$size" "$build_secs"
}

# check_metadata reads the image configuration the way a runtime will.
check_metadata() {
	local image="$1" user hc stop ports volumes
	user="$(pm image inspect --format '{{.Config.User}}' "$image")"
	hc="$(pm image inspect --format '{{json .HealthCheck}}' "$image")"
	stop="$(pm image inspect --format '{{.Config.StopSignal}}' "$image")"
	ports="$(pm image inspect --format '{{json .Config.ExposedPorts}}' "$image")"
	volumes="$(pm image inspect --format '{{json .Config.Volumes}}' "$image")"

	case "${user%%:*}" in
	"" | 0 | root) die "image runs as root (User=\"$user\")" ;;
	esac
	[ "$(jq -c .Test <<<"$hc")" = '["CMD","/perfect","healthcheck"]' ] ||
		die "HEALTHCHECK is not [\"/perfect\",\"healthcheck\"]: $hc (build with --format docker)"
	[ "$stop" = SIGTERM ] || die "STOPSIGNAL is \"$stop\", want SIGTERM"
	jq -e 'has("8000/tcp")' <<<"$ports" >/dev/null || die "port 8000 not exposed: $ports"
	jq -e 'has("/data")' <<<"$volumes" >/dev/null || die "/data is not a volume: $volumes"
	log "ok: metadata (user $user, healthcheck, SIGTERM, 8000/tcp, /data)"
}

# check_version runs `perfect version` and looks for the stamped version.
check_version() {
	local out
	out="$(pm run --rm "$1" version 2>/dev/null)" || die "perfect version failed"
	grep -qF -- "$2" <<<"$out" || die "perfect version printed \"$out\", want \"$2\""
	log "ok: perfect version prints $2"
}

# start_container runs the image as Coolify would (no capabilities, no new privileges,
# the named volume on /data), publishing port 8000 on loopback for the test only.
start_container() {
	local name="$1" port="$2"
	pm run -d --name "$name" \
		--cap-drop=ALL \
		--security-opt=no-new-privileges \
		--publish "127.0.0.1:$port:8000" \
		--volume "$VOLUME:/data" \
		--env ADMIN_TOKEN="$ADMIN_TOKEN_VALUE" \
		--env UNSUBSCRIBE_SECRET=image-test-unsubscribe-secret \
		--env PUBLIC_URL="http://127.0.0.1:$port" \
		--env ADMIN_TIMEZONE=America/Toronto \
		--env DEFAULT_TIMEZONE=America/Toronto \
		--env LOG_LEVEL=debug \
		"$IMAGE_UNDER_TEST" >/dev/null 2>&1 || die "podman run $name failed"
}

# wait_healthy polls /health through the published port until it answers 200.
wait_healthy() {
	local name="$1" port="$2" deadline code
	deadline=$(($(date +%s) + ${HEALTH_TIMEOUT:-60}))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/health" || true)"
		if [ "$code" = 200 ]; then
			log "ok: $name is healthy"
			return
		fi
		if [ "$(pm inspect --format '{{.State.Status}}' "$name")" = exited ]; then
			show_logs "$name"
			die "$name exited before it became healthy"
		fi
		sleep 0.5
	done
	show_logs "$name"
	die "$name: /health did not answer 200 within ${HEALTH_TIMEOUT:-60}s (last status $code)"
}

# check_healthcheck_cmd runs the image's HEALTHCHECK inside the container.
check_healthcheck_cmd() {
	pm healthcheck run "$1" >/dev/null 2>&1 || die "podman healthcheck run $1 failed"
	log "ok: HEALTHCHECK (/perfect healthcheck) passes inside the container"
}

# check_not_root asks podman for the host user of every process in the container.
check_not_root() {
	local users
	users="$(pm top "$1" huser 2>/dev/null | tail -n +2 | tr -d ' ')"
	[ -n "$users" ] || die "podman top $1 listed no process"
	if grep -qxE '0|root' <<<"$users"; then
		die "a process in $1 runs as root: $users"
	fi
	log "ok: the process runs as uid $(sort -u <<<"$users" | paste -sd,)"
}

# check_data_file_owner looks at the volume from the host: the bbolt file must exist
# and belong to the container user.
check_data_file_owner() {
	local dir owner
	dir="$(pm volume inspect --format '{{.Mountpoint}}' "$VOLUME")"
	[ -f "$dir/perfect.db" ] || die "no perfect.db in the volume ($(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f ')"
	owner="$(stat -c %u "$dir/perfect.db")"
	[ "$owner" != 0 ] || die "perfect.db is owned by root"
	log "ok: /data/perfect.db exists, owned by uid $owner"
}

# post_signup sends the legacy christmas-signup fixture and expects 200 "accepted".
post_signup() {
	local body code
	body="$(mktemp)"
	code="$(curl -s -o "$body" -w '%{http_code}' --max-time 10 \
		-H 'Content-Type: application/json' --data-binary "@$FIXTURE" \
		"http://127.0.0.1:$1/webhook/christmas-signup")"
	if [ "$code" != 200 ] || ! jq -e '.status == "accepted"' "$body" >/dev/null 2>&1; then
		die "POST /webhook/christmas-signup: HTTP $code $(head -c 500 "$body")"
	fi
	rm -f "$body"
	log "ok: POST /webhook/christmas-signup answered 200 accepted"
}

# step_ids lists, sorted, the ids of the steps the admin API shows for an email.
step_ids() {
	local body code
	body="$(mktemp)"
	code="$(curl -s -o "$body" -w '%{http_code}' --max-time 10 -G \
		-H "Authorization: Bearer $ADMIN_TOKEN_VALUE" \
		--data-urlencode "email=$2" \
		"http://127.0.0.1:$1/admin/api/steps")"
	[ "$code" = 200 ] || die "GET /admin/api/steps: HTTP $code $(head -c 500 "$body")"
	jq -r '[.. | objects | select(has("id")) | .id | tostring] | sort | unique | .[]' "$body" ||
		die "GET /admin/api/steps did not answer JSON: $(head -c 500 "$body")"
	rm -f "$body"
}

# graceful_stop stops a container with a long timeout; exit code 0 means it handled
# SIGTERM and shut down cleanly instead of being killed.
graceful_stop() {
	local code
	pm stop --time 45 "$1" >/dev/null 2>&1 || die "podman stop $1 failed"
	code="$(pm inspect --format '{{.State.ExitCode}}' "$1")"
	if [ "$code" != 0 ]; then
		show_logs "$1"
		die "$1 exited with $code on SIGTERM, want 0"
	fi
	log "ok: $1 stopped cleanly on SIGTERM"
}

# check_redeploy_overlap starts a second container on the same volume while the first
# runs, as a compose redeploy can. The second must not report healthy while the first
# holds the data file, and must serve the same data once the first is gone.
check_redeploy_overlap() {
	local email="$1" want="$2" port2 code steps
	port2="$(free_port)"
	start_container "$SECOND" "$port2"
	for _ in 1 2 3 4 5 6; do
		code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port2/health" || true)"
		[ "$code" != 200 ] || die "$SECOND reported healthy while $FIRST held the data file"
		sleep 0.5
	done
	if pm healthcheck run "$SECOND" >/dev/null 2>&1; then
		die "the HEALTHCHECK of $SECOND passed while $FIRST held the data file"
	fi
	log "ok: a second container on the same volume stays unhealthy while the first runs"

	graceful_stop "$FIRST"
	if [ "$(pm inspect --format '{{.State.Status}}' "$SECOND")" = exited ]; then
		log "$SECOND gave up waiting for the data file (bounded wait); starting it again"
		pm start "$SECOND" >/dev/null 2>&1 || die "start of $SECOND failed"
	fi
	wait_healthy "$SECOND" "$port2"
	steps="$(step_ids "$port2" "$email")"
	[ "$steps" = "$want" ] || die "the second container sees other steps: [$steps], want [$want]"
	log "ok: the second container took over the data file with the same steps"
}

# free_port prints a loopback TCP port nobody listens on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			printf '%s\n' "$p"
			return
		fi
	done
	die "no free port found"
}

show_logs() {
	printf -- '--- logs of %s ---\n' "$1" >&2
	pm logs --tail 40 "$1" >&2 2>&1 || true
	printf -- '---\n' >&2
}

human_mb() {
	awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'
}

cleanup() {
	pm rm -f -t 0 "$FIRST" "$SECOND" >/dev/null 2>&1 || true
	pm volume rm -f "$VOLUME" >/dev/null 2>&1 || true
	if [ -n "${PERFECT_CONTAINERS_CONF:-}" ]; then
		rm -f "$PERFECT_CONTAINERS_CONF"
	fi
}

IMAGE_UNDER_TEST="${IMAGE:-localhost/perfect:image-test}"
main "$@"
