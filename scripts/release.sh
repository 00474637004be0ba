#!/bin/sh
# Builds Ringside's release archives from the current commit, reproducibly.
#
# Usage: scripts/release.sh [VERSION] [OUTDIR]
#   VERSION  the tag written into the binary (default: git describe, else "dev")
#   OUTDIR   where the files go (default: dist/)
#
# Output (OUTDIR):
#   ringside_VERSION_linux_amd64.tar.gz, ringside_VERSION_linux_arm64.tar.gz,
#   ringside_VERSION_darwin_arm64.tar.gz, ringside_VERSION_windows_amd64.zip
#     each: the binary (ringside / ringside.exe), README.md, deploy/ringside.service,
#     Containerfile
#   ringside_VERSION.cdx.json   CycloneDX 1.5 SBOM of the Go modules in the binary
#   SHA256SUMS                  sha256sum of all of the above
#
# The binary's `ringside version --json` names the commit (git rev-parse HEAD), its time
# and whether the checkout had changes (scripts/stamp.sh); RINGSIDE_RELEASE_TARGETS
# (e.g. "linux/amd64") limits the platforms built, for tests.
#
# Two runs on the same commit give byte-identical files: -trimpath, the commit stamped
# with -X (not the toolchain's VCS stamp), a fixed -buildid, CGO off, archive entries
# sorted with the commit's time and fixed owners.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
stamp_version=${1:-}
. "$root/scripts/stamp.sh"
out=${2:-dist}
case "$out" in /*) ;; *) out="$root/$out" ;; esac
epoch=$commit_epoch
stamp=$(date -u -d "@$epoch" +%Y%m%d%H%M.%S)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
rm -rf "$out"
mkdir -p "$out"

export CGO_ENABLED=0 GOFLAGS=-mod=readonly
ldflags="-s -w -buildid= $stamp_ldflags"
targets=${RINGSIDE_RELEASE_TARGETS:-linux/amd64 linux/arm64 darwin/arm64 windows/amd64}
case " $targets " in *" linux/amd64 "*) ;; *) echo "release: the targets must include linux/amd64 (the SBOM reads it)" >&2; exit 2 ;; esac

for target in $targets; do
  goos=${target%/*}
  goarch=${target#*/}
  name=ringside_${version}_${goos}_${goarch}
  stage=$tmp/$name
  mkdir -p "$stage/deploy"
  exe=ringside
  [ "$goos" = windows ] && exe=ringside.exe
  GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$stage/$exe" ./cmd/ringside
  cp README.md Containerfile "$stage/"
  cp deploy/ringside.service "$stage/deploy/"
  # Same permissions and times on every run, whatever the umask or checkout time.
  find "$stage" -type d -exec chmod 0755 {} +
  find "$stage" -type f -exec chmod 0644 {} +
  chmod 0755 "$stage/$exe"
  find "$stage" -exec touch -h -t "$stamp" {} +
  if [ "$goos" = windows ]; then
    (cd "$tmp" && find "$name" -print | LC_ALL=C sort | TZ=UTC zip -q -X -D -@ "$out/$name.zip")
  else
    (cd "$tmp" && find "$name" -print | LC_ALL=C sort |
      tar --no-recursion --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --format=ustar -cf - -T - |
      gzip -n -9 > "$out/$name.tar.gz")
  fi
  [ "$target" = linux/amd64 ] && cp "$stage/$exe" "$tmp/ringside-linux-amd64"
done

# The SBOM lists the modules compiled into the binary (they are the same on every
# platform but for golang.org/x/sys's use), written by the binary's own build info.
go run ./scripts/sbom "$tmp/ringside-linux-amd64" "$version" "$epoch" > "$out/ringside_${version}.cdx.json"

(cd "$out" && LC_ALL=C ls | grep -v '^SHA256SUMS$' | xargs sha256sum > SHA256SUMS)
echo "release $version in $out:"
ls -l "$out"
