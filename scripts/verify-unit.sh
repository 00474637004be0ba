#!/bin/sh
# systemd-analyze verify of deploy/ringside.service, with the ExecStart path pointed at a
# freshly built binary (verify insists that the program exists; nothing is installed).
# Also prints systemd-analyze security's exposure score for the unit.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/ringside" ./cmd/ringside)
sed "s#/usr/local/bin/ringside#$tmp/ringside#" "$root/deploy/ringside.service" > "$tmp/ringside.service"
out=$(systemd-analyze verify "$tmp/ringside.service" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
  echo "systemd-analyze verify is not clean:" >&2
  echo "$out" >&2
  exit 1
fi
systemd-analyze security --offline=true "$tmp/ringside.service" 2>/dev/null | tail -1 || true
echo "deploy/ringside.service: systemd-analyze verify clean"
