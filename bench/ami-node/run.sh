#!/bin/sh
# Compares Ringside's AMI decoder + correlator with the Node.js client asterisk-manager@0.2.0
# on the same byte stream (every capture in internal/telephony/ami/testdata/captures, REPEAT times)
# over loopback TCP. asterisk-manager is installed into a temp folder, never into the project.
# Usage: bench/ami-node/run.sh   (from anywhere; REPEAT=200 by default)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=${FIXTURES:-$root/internal/telephony/ami/testdata/captures}
repeat=${REPEAT:-200}
tmp=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
npm install --prefix "$tmp" --no-audit --no-fund --silent asterisk-manager@0.2.0 >/dev/null
(cd "$root" && go build -o "$tmp/ami-node" ./bench/ami-node)
"$tmp/ami-node" serve -fixtures "$fixtures" -repeat "$repeat" -addr-file "$tmp/addr" &
srv=$!
i=0
while [ ! -s "$tmp/addr" ]; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "server did not start" >&2; exit 1; }
  sleep 0.1
done
read -r addr sent bytes < "$tmp/addr"
go_json=$("$tmp/ami-node" client -addr "$addr")
node_json=$(node "$root/bench/ami-node/client.js" "$tmp" "$addr")
node -e '
const [sent, bytes, g, n] = [Number(process.argv[1]), Number(process.argv[2]), JSON.parse(process.argv[3]), JSON.parse(process.argv[4])];
console.log(`stream: ${sent} events, ${(bytes / 1048576).toFixed(1)} MiB over loopback TCP`);
const row = r => `${r.client.padEnd(44)} ${String(r.events).padStart(8)} ${Math.round(r.events / r.wall_s).toString().padStart(10)} ${(r.cpu_s / r.events * 1e9).toFixed(0).padStart(12)}`;
console.log(`${"client".padEnd(44)} ${"events".padStart(8)} ${"events/s".padStart(10)} ${"CPU ns/event".padStart(12)}`);
console.log(row(g)); console.log(row(n));
console.log(`ratio (ringside / node): ${((g.events / g.wall_s) / (n.events / n.wall_s)).toFixed(1)}x events/s, ${((n.cpu_s / n.events) / (g.cpu_s / g.events)).toFixed(1)}x less CPU per event`);
if (g.signals !== undefined) console.log(`ringside also correlated them into ${g.signals} call signals`);
' "$sent" "$bytes" "$go_json" "$node_json"
