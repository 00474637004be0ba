#!/bin/sh
# Builds the container image from the Containerfile with podman, then checks it twice:
#  - the image's exported file system, run with chroot (the binary is static):
#    `ringside version` and `ringside config check`;
#  - a container of the image (podman run) serving the demo on a published loopback port:
#    /healthz answers, the image's HEALTHCHECK passes (podman healthcheck run), and
#    `podman stop` ends it with exit code 0 (graceful shutdown on SIGTERM).
#
# Usage: scripts/container.sh [IMAGE]   (default IMAGE: localhost/ringside:dev; needs root
# for chroot)
#
# RINGSIDE_PODMAN_RUN_FLAGS replaces the flags given to podman run (default: the runc
# runtime when it is installed, and modest nofile/nproc limits: in a VM without
# CAP_SYS_RESOURCE podman's default limits cannot be set, and crun refuses hybrid cgroups).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
image=${1:-localhost/ringside:dev}
cd "$root"
. "$root/scripts/stamp.sh"
ctx=$(mktemp -d)
cid=
run=
cleanup() {
  [ -n "$cid" ] && podman rm -f "$cid" >/dev/null 2>&1
  [ -n "$run" ] && podman rm -f "$run" >/dev/null 2>&1
  rm -rf "$ctx"
}
trap cleanup EXIT INT TERM

CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w $stamp_ldflags" -o "$ctx/ringside" ./cmd/ringside
if file "$ctx/ringside" 2>/dev/null | grep -q 'dynamically linked'; then
  echo "container: the binary is not static" >&2
  exit 1
fi
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
printf 'root:x:0:0:root:/:/sbin/nologin\nringside:x:65532:65532:ringside:/data:/sbin/nologin\n' > "$ctx/passwd"
printf 'root:x:0:\nringside:x:65532:\n' > "$ctx/group"
mkdir "$ctx/data"
printf '# Ringside in a container: listen on every interface, keep data in the /data volume.\nlisten: 0.0.0.0:8080\ndata_dir: /data\n' > "$ctx/ringside.yaml"
cp "$root/Containerfile" "$ctx/"
# docker format: the OCI format has no HEALTHCHECK.
podman build --quiet --format docker -t "$image" -f "$ctx/Containerfile" "$ctx" >/dev/null

inspect() { podman image inspect --format "$1" "$image"; }
[ "$(inspect '{{.Config.User}}')" = "65532:65532" ] || { echo "container: not a non-root user" >&2; exit 1; }
inspect '{{json .Config.Volumes}}' | grep -q '"/data"' || { echo "container: no /data volume" >&2; exit 1; }
inspect '{{json .HealthCheck}}' | grep -q 'health' || { echo "container: no health check" >&2; exit 1; }

# The image's file system, run from outside.
cid=$(podman create "$image")
mkdir "$ctx/rootfs"
podman export "$cid" | tar -C "$ctx/rootfs" -xf -
ls -la "$ctx/rootfs" "$ctx/rootfs/etc/ssl/certs" >/dev/null
chroot --userspec=65532:65532 "$ctx/rootfs" /ringside version
env -i RINGSIDE_CONFIG=/etc/ringside/ringside.yaml RINGSIDE_DATA=/data "$(command -v chroot)" --userspec=65532:65532 "$ctx/rootfs" /ringside config check

# A container of the image: serve the demo, answer /healthz on a published port.
flags=${RINGSIDE_PODMAN_RUN_FLAGS-"--ulimit nofile=4096:4096 --ulimit nproc=4096:4096"}
if [ -z "${RINGSIDE_PODMAN_RUN_FLAGS+set}" ] && command -v runc >/dev/null 2>&1; then
  flags="--runtime runc $flags"
fi
# shellcheck disable=SC2086 # flags are words
run=$(podman run -d $flags -p 127.0.0.1::8080 "$image" serve --demo 2>"$ctx/run.err") || {
  cat "$ctx/run.err" >&2
  echo "container: podman run failed" >&2
  exit 1
}
port=$(podman port "$run" 8080/tcp | sed 's/.*://')
ok=
for _ in $(seq 1 60); do
  if curl -fsS -m 2 "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q ok; then ok=1; break; fi
  sleep 1
done
if [ -z "$ok" ]; then
  podman logs "$run" >&2 || true
  echo "container: serve --demo did not answer /healthz on 127.0.0.1:$port" >&2
  exit 1
fi
podman healthcheck run "$run" 2>/dev/null || {
  podman logs "$run" >&2 || true
  echo "container: the image's health check failed" >&2
  exit 1
}
podman stop -t 20 "$run" >/dev/null 2>&1
code=$(podman inspect --format '{{.State.ExitCode}}' "$run")
if [ "$code" != 0 ]; then
  podman logs "$run" >&2 || true
  echo "container: serve exited with $code on podman stop, want 0" >&2
  exit 1
fi
echo "container: $image ok (serve --demo answered /healthz on 127.0.0.1:$port, health check passed, stopped cleanly)"
