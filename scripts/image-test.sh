#!/usr/bin/env bash
# Container smoke test (`make image-test`): build the Dockerfile with podman and run the image
# as docs/deploy.md says (scripts/image_test.py has the checks). Works without a Docker daemon
# and without Docker Hub:
#   - podman, buildah, runc, slirp4netns and debootstrap come from Debian (installed here when
#     missing, as root with apt-get; otherwise the test is skipped with one line);
#   - the base image is a stand-in for python:3.11-slim: Debian bookworm (debootstrap minbase)
#     with python3, python3-venv, python-is-python3 and ca-certificates, imported with
#     `podman import` and cached in $IMAGE_TEST_CACHE (a tarball) and in podman's storage;
#   - this machine's CA bundle goes into the build as the `ca` build secret (for a
#     TLS-intercepting proxy), and its pip index, if it sets one, as build arguments;
#   - podman gets a containers.conf of its own: runc, cgroupfs, and ulimits a sandbox may set.
# Environment: IMAGE_TEST=skip skips it; PYTHON_IMAGE=<image> uses that base instead of the
# stand-in (e.g. python:3.11-slim where a registry is reachable); IMAGE_TEST_CACHE=<dir>.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "image-test: $*"; }
skip() { say "SKIPPED: $*"; exit 0; }

[ "${IMAGE_TEST:-}" = "skip" ] && skip "IMAGE_TEST=skip"
[ "$(uname -s)" = "Linux" ] || skip "needs Linux (podman), this is $(uname -s)"

PACKAGES=(podman buildah runc slirp4netns debootstrap)
missing=()
for tool in "${PACKAGES[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        skip "needs ${missing[*]} (as root: apt-get install ${PACKAGES[*]})"
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        apt-get install -y -q "${missing[@]}" >/dev/null
    fi
fi
[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman with slirp4netns)"

VENV_PYTHON=${VENV_PYTHON:-.venv/bin/python}
[ -x "$VENV_PYTHON" ] || { say "FAIL: no $VENV_PYTHON; run 'make install' first" >&2; exit 1; }

started=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# podman's settings for this run only (the machine's own containers.conf is left alone).
# A sandbox may refuse the rlimits podman gives root containers by default (nofile=1048576).
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 8192 ] && nofile=8192
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$work/containers.conf"
ulimits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=4096:4096")

# ---------------------------------------------------------------- the base image
BASE_TAG=localhost/audiobot-image-test-base:bookworm-python3-v1
if [ -n "${PYTHON_IMAGE:-}" ]; then
    base=$PYTHON_IMAGE
elif podman image exists "$BASE_TAG"; then
    base=$BASE_TAG
else
    cache=${IMAGE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/audiobot-image-test}
    tarball="$cache/${BASE_TAG##*:}.tar"
    if [ ! -s "$tarball" ]; then
        say "making the base image with debootstrap (once; cached in $cache)"
        mkdir -p "$cache"
        rootfs="$cache/rootfs.tmp"
        rm -rf "$rootfs"
        # The Debian mirror this machine's apt already uses (deb822 or one-line sources).
        mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -1)
        [ -n "$mirror" ] || mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -1)
        [ -n "$mirror" ] || { say "FAIL: no Debian mirror in the apt sources"; exit 1; }
        debootstrap --variant=minbase \
            --include=python3,python3-venv,python-is-python3,ca-certificates \
            bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
            || { tail -20 "$work/debootstrap.log"; say "FAIL: debootstrap"; exit 1; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$rootfs"
    fi
    podman import --quiet "$tarball" "$BASE_TAG" >/dev/null
    base=$BASE_TAG
fi
say "base image $base ($((SECONDS - started)) s)"

# ---------------------------------------------------------------- the build
build_args=(--build-arg "PYTHON_IMAGE=$base")
ca=""
for candidate in "${PIP_CERT:-}" "${REQUESTS_CA_BUNDLE:-}" "${SSL_CERT_FILE:-}" \
    /etc/ssl/certs/ca-certificates.crt; do
    if [ -n "$candidate" ] && [ -s "$candidate" ]; then ca=$candidate; break; fi
done
[ -n "$ca" ] && build_args+=(--secret "id=ca,src=$ca")
# Only an http(s) index: a file:// one on this machine means nothing inside the build.
index=${PIP_INDEX_URL:-$("$VENV_PYTHON" -m pip config get global.index-url 2>/dev/null || true)}
case "$index" in http://* | https://*) build_args+=(--build-arg "PIP_INDEX_URL=$index") ;; esac

IMAGE=localhost/audiobot:image-test
build_started=$SECONDS
# --format docker keeps the HEALTHCHECK (the OCI format has none).
if ! podman build --format docker "${ulimits[@]}" "${build_args[@]}" --tag "$IMAGE" . \
    >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log"
    say "FAIL: podman build"
    exit 1
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE in $((SECONDS - build_started)) s, $((size / 1000000)) MB"

# The same Dockerfile with a model baked in, downloaded from a stand-in model server on this
# machine's loopback (the build shares the host's network for that). Only the model stage and
# the last layers are new: the rest comes from the build cache.
MODEL=vosk-model-image-test-0.1
IMAGE_MODEL=localhost/audiobot:image-test-model
"$VENV_PYTHON" scripts/image_test.py serve-model "$MODEL" >"$work/model-port" &
model_server=$!
trap 'kill "$model_server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 300); do [ -s "$work/model-port" ] && break; sleep 0.1; done
[ -s "$work/model-port" ] || { say "FAIL: the stand-in model server did not start"; exit 1; }
build_started=$SECONDS
if ! podman build --format docker --network host "${ulimits[@]}" "${build_args[@]}" \
    --build-arg "VOSK_MODEL=$MODEL" \
    --build-arg "VOSK_MODEL_BASE_URL=http://127.0.0.1:$(cat "$work/model-port")" \
    --tag "$IMAGE_MODEL" . >"$work/build-model.log" 2>&1; then
    tail -40 "$work/build-model.log"
    say "FAIL: podman build with VOSK_MODEL=$MODEL"
    exit 1
fi
kill "$model_server" && wait "$model_server" || true
say "built $IMAGE_MODEL (VOSK_MODEL=$MODEL) in $((SECONDS - build_started)) s"

# ---------------------------------------------------------------- the checks
# Containers and volumes an interrupted earlier run left behind (this test's names only).
podman ps --all --quiet --filter name='^audiobot-it-' | xargs --no-run-if-empty podman rm --force --time 0 >/dev/null 2>&1 || true
podman volume ls --quiet --filter name='^audiobot-it-' | xargs --no-run-if-empty podman volume rm --force >/dev/null 2>&1 || true
"$VENV_PYTHON" scripts/image_test.py check "$IMAGE" --baked-image "$IMAGE_MODEL" --baked-model "$MODEL"
say "total $((SECONDS - started)) s"
