#!/bin/sh
# Side-by-side over loopback: Ringside's esl connector (Go) against modesl (Node.js) on the
# same bytes (the FreeSWITCH captures, replayed by server/), for plain and JSON events.
# modesl is installed into a temporary folder, never into the project.
# Usage: bench/esl-node/run.sh [EVENTS]   (from anywhere; needs go, node, npm)
set -eu
EVENTS=${1:-100000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIXTURES=${FIXTURES:-$ROOT/internal/telephony/esl/testdata/captures}
TMP=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

(cd "$TMP" && npm install --no-save --no-audit --no-fund --silent modesl@1.2.1 >/dev/null)
cp "$ROOT/bench/esl-node/client.js" "$TMP/"
(cd "$ROOT" && go build -o "$TMP/server" ./bench/esl-node/server && go test -c -o "$TMP/esl.test" ./internal/telephony/esl)

node --version | sed 's/^/node /'
echo "modesl $(node -p "require('$TMP/node_modules/modesl/package.json').version")"
for FORMAT in plain json; do
  taskset -c 1 "$TMP/server" -fixtures "$FIXTURES" -format "$FORMAT" -events "$EVENTS" > "$TMP/addr" &
  SERVER_PID=$!
  while [ ! -s "$TMP/addr" ]; do sleep 0.1; done
  ADDR=$(head -1 "$TMP/addr")
  HOST=${ADDR%:*}; PORT=${ADDR##*:}
  NODE=$(cd "$TMP" && taskset -c 0 node client.js "$HOST" "$PORT" "$FORMAT" | grep '^RESULT')
  GO=$(cd "$ROOT/internal/telephony/esl" && GOMAXPROCS=1 RINGSIDE_ESL_BENCH_ADDR=$ADDR RINGSIDE_ESL_BENCH_FORMAT=$FORMAT \
    taskset -c 0 "$TMP/esl.test" -test.run '^TestLoopbackClient$' | grep '^RESULT')
  echo "$NODE"
  echo "$GO"
  echo "$NODE
$GO" | awk -v f="$FORMAT" '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[NR, kv[1]] = kv[2] } }
    END { printf "RATIO format=%s events_per_s go/modesl=%.1fx cpu_per_event modesl/go=%.1fx\n", f,
          v[2, "events_per_s"] / v[1, "events_per_s"], v[1, "cpu_us_per_event"] / v[2, "cpu_us_per_event"] }'
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; : > "$TMP/addr"
done
