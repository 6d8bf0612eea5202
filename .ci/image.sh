#!/usr/bin/env bash
# CI: builds the container image from the repository's Dockerfile and runs it
# against the local PostgreSQL (127.0.0.1:5432): `migrate --with-fixture` on a
# scratch database, `serve`, one signed delivery to a receiver on the host,
# `healthcheck`, and a check that it runs as the non-root uid 10001.
#
# No container registry is reachable from CI, so the two base images the
# Dockerfile names are made locally and tagged with those names (built once,
# kept in podman's storage for the next run):
#   docker.io/library/debian:bookworm-slim  Debian bookworm (mmdebstrap minbase)
#   docker.io/library/rust:1-bookworm       the same plus gcc, libc6-dev and
#                                           the host's own Rust toolchain
# Set IHF_REBUILD_BASES=1 to make them again. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

RUST_BASE=docker.io/library/rust:1-bookworm
RUN_BASE=docker.io/library/debian:bookworm-slim
IMAGE=localhost/ihf-webhooks:ci
PG_URL_BASE=${IHF_IMAGE_PG:-postgres://postgres@127.0.0.1:5432}
DB=ihf_image_check_$$
API_PORT=${IHF_IMAGE_PORT:-18480}
RECEIVER_PORT=${IHF_IMAGE_RECEIVER_PORT:-18481}
CONTAINER=ihf-image-check-$$

say() { printf '== image: %s\n' "$*" >&2; }
die() { printf '== image: FAILED: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d)
receiver_pid=
cleanup() {
  podman rm -f "$CONTAINER" >/dev/null 2>&1 || true
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null || true
  psql "$PG_URL_BASE/postgres" -qAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# podman on the CI host: runc (no crun), cgroupfs (no systemd), and ulimits
# no higher than the machine's hard limits (the defaults ask for more).
# (Even nproc at exactly the hard limit is refused here, so it is capped lower.)
hard() { local v; v=$(ulimit -H "$1"); [ "$v" = unlimited ] && v=$2; [ "$v" -gt "$2" ] && v=$2; echo "$v"; }
ULIMITS=("nofile=$(hard -n 65536):$(hard -n 65536)" "nproc=$(hard -u 32768):$(hard -u 32768)")
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["${ULIMITS[0]}", "${ULIMITS[1]}"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$work/containers.conf

# --- Base images ------------------------------------------------------------
sysroot=$(rustc --print sysroot)
rustc_version=$(rustc --version | cut -d' ' -f2)
label() { podman image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

if [ -n "${IHF_REBUILD_BASES:-}" ] || ! podman image exists "$RUN_BASE"; then
  say "making $RUN_BASE with mmdebstrap"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/debian.tar"
  podman import --quiet --change 'CMD ["bash"]' "$work/debian.tar" "$RUN_BASE" >/dev/null
  rm -f "$work/debian.tar"
fi
if [ -n "${IHF_REBUILD_BASES:-}" ] || [ "$(label "$RUST_BASE" ihf.rustc)" != "$rustc_version" ]; then
  say "making $RUST_BASE with mmdebstrap and the host's Rust $rustc_version ($sysroot)"
  # The toolchain without its documentation and sources (share/, rust-src).
  mmdebstrap --quiet --variant=minbase \
    --include=ca-certificates,gcc,libc6-dev,pkg-config,make \
    --customize-hook='mkdir -p "$1/usr/local/rustup/toolchains/host" "$1/usr/local/cargo/bin"' \
    --customize-hook="tar -C '$sysroot' --exclude=./share --exclude=./lib/rustlib/src -cf - . | tar -C \"\$1/usr/local/rustup/toolchains/host\" -xf -" \
    bookworm "$work/rust.tar"
  podman import --quiet \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/rustup/toolchains/host/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL ihf.rustc=$rustc_version" \
    --change 'CMD ["bash"]' \
    "$work/rust.tar" "$RUST_BASE" >/dev/null
  rm -f "$work/rust.tar"
fi
bases_done=$(date +%s)

# --- The image, from the unchanged Dockerfile --------------------------------
# --pull=never: the bases above, never a registry. --format docker keeps the
# Dockerfile's HEALTHCHECK (the OCI format has none). The host's CA certificates,
# because crates.io is reached through the CI host's TLS egress proxy. The
# Dockerfile's cache mounts keep the registry and target/ between runs.
say "building $IMAGE"
podman build --pull=never --network host --format docker \
  --ulimit "${ULIMITS[0]}" --ulimit "${ULIMITS[1]}" \
  -v /etc/ssl/certs:/etc/ssl/certs:ro \
  --label ihf.ci=1 -t "$IMAGE" -f Dockerfile . >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; die "podman build (the last 40 lines above)"; }
# Earlier builds' images, now untagged (our labels only; the Rust base's label
# marks the build stages): ~1.3 GB per source change otherwise.
podman image prune -f --filter label=ihf.ci >/dev/null
podman image prune -f --filter label=ihf.rustc >/dev/null
built=$(date +%s)

# --- Run it -----------------------------------------------------------------
# One-off commands: no health check (podman would try to time it with systemd).
run() {
  podman run --rm --no-healthcheck --network host -e DATABASE_URL="$PG_URL_BASE/$DB" -e RUST_LOG=warn \
    "$@"
}

uid=$(podman run --rm --no-healthcheck --entrypoint /usr/bin/id "$IMAGE" -u)
[ "$uid" = 10001 ] || die "the image runs as uid $uid, not 10001"

psql "$PG_URL_BASE/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null
say "migrate --with-fixture"
run "$IMAGE" migrate --with-fixture >/dev/null || die "migrate --with-fixture"

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }

say "serve"
# No health-check timer (podman wants systemd for it); the check runs below.
podman run -d --name "$CONTAINER" --network host --no-healthcheck \
  -e DATABASE_URL="$PG_URL_BASE/$DB" -e IHF_LISTEN="127.0.0.1:$API_PORT" \
  -e IHF_ALLOW_PRIVATE_TARGETS=true -e IHF_ALLOW_HTTP_TARGETS=true \
  "$IMAGE" serve >/dev/null
ready=
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.5
done
[ -n "$ready" ] || { podman logs "$CONTAINER" >&2 || true; die "serve never became ready"; }
podman exec "$CONTAINER" /usr/bin/id -u | grep -qx 10001 || die "serve does not run as uid 10001"

# A consumer and a key (the CLI in the image), a subscription (the API), a
# receiver on the host that verifies the signature, one inserted row.
consumer=$(run "$IMAGE" consumer create --name image-check | json_field id)
key=$(run "$IMAGE" key create --consumer "$consumer" | json_field key)
secret=$(curl -fsS -X POST "http://127.0.0.1:$API_PORT/api/v2/webhooks" \
  -H "Authorization: Bearer $key" -H 'content-type: application/json' \
  -d "{\"event_type\":\"annotation.created\",\"target_url\":\"http://127.0.0.1:$RECEIVER_PORT/hook\"}" |
  json_field secret) || die "subscribing through the API"

WEBHOOK_SECRET=$secret python3 -u examples/receiver.py "$RECEIVER_PORT" >"$work/receiver.log" 2>&1 &
receiver_pid=$!
for _ in $(seq 1 50); do grep -q listening "$work/receiver.log" && break; sleep 0.1; done
grep -q listening "$work/receiver.log" || die "the receiver did not start"

say "one signed delivery"
psql "$PG_URL_BASE/$DB" -qAt -v ON_ERROR_STOP=1 \
  -c "INSERT INTO annotations (author, body) VALUES ('ci', 'from the image check')" >/dev/null
for _ in $(seq 1 100); do grep -q 'signature' "$work/receiver.log" && break; sleep 0.1; done
grep -q 'annotation.created .* signature verified' "$work/receiver.log" ||
  { cat "$work/receiver.log" >&2; podman logs "$CONTAINER" >&2 || true; die "no verified delivery within 10 s"; }

say "healthcheck"
# The image's HEALTHCHECK instruction is this command; run it as an engine would.
[ "$(podman image inspect --format '{{json .HealthCheck.Test}}' "$IMAGE")" = '["CMD","ihf-webhooks","healthcheck"]' ] ||
  die "the image has no HEALTHCHECK running ihf-webhooks healthcheck"
podman exec "$CONTAINER" ihf-webhooks healthcheck >/dev/null || die "healthcheck exited non-zero"
[ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER")" = true ] || die "serve stopped"

finished=$(date +%s)
say "OK: bases $((bases_done - started))s, build $((built - bases_done))s, run $((finished - built))s, total $((finished - started))s"
