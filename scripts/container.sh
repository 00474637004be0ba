#!/bin/sh
# Builds the container image from the Containerfile with podman, then checks it without a
# registry or a container runtime: the image is exported to a folder and the binary runs
# from it with chroot (it is static), as `ringside version` and `ringside config check`.
#
# Usage: scripts/container.sh [IMAGE]   (default IMAGE: localhost/ringside:dev; needs root
# for chroot)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
image=${1:-localhost/ringside:dev}
cd "$root"
. "$root/scripts/stamp.sh"
ctx=$(mktemp -d)
cid=
cleanup() {
  [ -n "$cid" ] && podman rm -f "$cid" >/dev/null 2>&1
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
echo "container: $image ok"
