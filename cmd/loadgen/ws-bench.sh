#!/usr/bin/env bash
# WebSocket benchmarks: a redis-server, two Questline nodes on one SQLite
# file, then the ws-idle, ws-push and ws-board scenarios of cmd/loadgen.
#
#   cmd/loadgen/ws-bench.sh [idle-conns] [push-rate] [board-subscribers]
#
# Raises the open-file limit as far as the hard limit allows: each socket
# costs one descriptor in the server and one in loadgen. Profiles of each
# node go to $OUT/*.pprof (QL_PPROF_ADDR).
set -euo pipefail
IDLE=${1:-15000}  # both processes need one fd per socket; 20,000 is the hard limit here
RATE=${2:-5000}
BOARD=${3:-10000}
OUT=${OUT:-$(mktemp -d)}
ulimit -n "$(ulimit -Hn)"
echo "open files: $(ulimit -n); output in $OUT"
go build -o "$OUT/server" ./cmd/server
go build -o "$OUT/loadgen" ./cmd/loadgen
redis-server --port 6391 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --logfile "$OUT/redis.log"
export QL_JWT_SECRET=bench-secret-0123456789abcdef0123 QL_DATA_DIR=$OUT REDIS_URL=redis://127.0.0.1:6391/0 \
  QL_LOG_LEVEL=warn QL_EVENT_RATE=100000 QL_SQLITE_SYNC=NORMAL
QL_ADDR=127.0.0.1:8181 QL_PPROF_ADDR=127.0.0.1:6181 "$OUT/server" >"$OUT/node1.log" 2>&1 & N1=$!
QL_ADDR=127.0.0.1:8182 QL_PPROF_ADDR=127.0.0.1:6182 "$OUT/server" >"$OUT/node2.log" 2>&1 & N2=$!
trap 'kill $N1 $N2 2>/dev/null; redis-cli -p 6391 shutdown nosave >/dev/null 2>&1 || true' EXIT
sleep 3
LG=("$OUT/loadgen" -secret "$QL_JWT_SECRET")
NODES=http://127.0.0.1:8181,http://127.0.0.1:8182
"${LG[@]}" -scenario ws-idle -url http://127.0.0.1:8181 -conns "$IDLE" -sources 8 -pprof http://127.0.0.1:6181
curl -s "http://127.0.0.1:6181/debug/pprof/heap" >"$OUT/idle-heap.pprof"
"${LG[@]}" -scenario ws-push -nodes $NODES -conns 5000 -rate "$RATE" -concurrency 256 -duration 20s & LOAD=$!
sleep 12; curl -s "http://127.0.0.1:6182/debug/pprof/profile?seconds=5" >"$OUT/push-cpu.pprof"; wait $LOAD
"${LG[@]}" -scenario ws-board -nodes $NODES -conns "$BOARD" -sources 8 -duration 20s & LOAD=$!
sleep 12; curl -s "http://127.0.0.1:6181/debug/pprof/profile?seconds=5" >"$OUT/board-cpu.pprof"; wait $LOAD
echo "profiles: go tool pprof -top $OUT/server $OUT/push-cpu.pprof"
