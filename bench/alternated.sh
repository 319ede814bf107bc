#!/bin/bash
# One alternated run: baseline vs Questline (new, previous release), embedded and Redis mode.
# usage: bench/alternated.sh ROUNDS [PREVIOUS_COMMIT]   (one line per measurement)
# Builds this tree's server, cmd/loadgen and cmd/baseline (and the server at
# PREVIOUS_COMMIT, default HEAD~1) into a temporary directory, then runs
# every shape once per round, alternating, so ratios compare within a round.
set -u
ROUNDS=${1:-3}
PREV=${2:-HEAD~1}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
go build -o $T/qlserver.new ./cmd/server && go build -o $T/loadgen ./cmd/loadgen && go build -o $T/baseline ./cmd/baseline || exit 1
mkdir $T/prev && git archive "$PREV" | tar -x -C $T/prev && (cd $T/prev && go build -o $T/qlserver.prev ./cmd/server) || exit 1
RPORT=16390
redis-server --port $RPORT --save '' --appendonly no --daemonize yes --pidfile $T/redis.pid >/dev/null
sleep 0.5
lg() { $T/loadgen "$@" 2>&1 | grep -E '^(result|latency)' | tr '\n' ' '; }
ql() { # BIN LABEL SCENARIO CONC READS [env...]
  local BIN=$1 LABEL=$2 SC=$3 C=$4 R=$5; shift 5
  local D=$T/run-$LABEL-$SC-$C-$R; rm -rf $D
  env QL_DATA_DIR=$D QL_ADDR=127.0.0.1:18092 QL_LOG_LEVEL=warn QL_EVENT_RATE=100000 QL_AUTH_FAIL_RATE=100000 "$@" $BIN > $D.log 2>&1 &
  local PID=$!
  for i in $(seq 100); do curl -sf http://127.0.0.1:18092/healthz >/dev/null && break; sleep 0.1; done
  if [ "$SC" = events ]; then
    out=$(lg -url http://127.0.0.1:18092 -data-dir $D -duration 10s -players 10000 -concurrency $C)
  else
    out=$(lg -scenario board -url http://127.0.0.1:18092 -data-dir $D -duration 10s -players 10000 -concurrency $C -reads $R)
  fi
  echo "round=$ROUND $LABEL $SC c=$C reads=$R load=$(cut -d' ' -f1 /proc/loadavg) $out"
  kill $PID; wait $PID 2>/dev/null; rm -rf $D $D.log
}
bl() { # CONC
  $T/baseline -addr 127.0.0.1:18091 > /dev/null 2>&1 &
  local PID=$!
  sleep 0.5
  echo "round=$ROUND baseline c=$1 load=$(cut -d' ' -f1 /proc/loadavg) $(lg -scenario baseline -url http://127.0.0.1:18091 -duration 10s -players 10000 -concurrency $1)"
  kill $PID; wait $PID 2>/dev/null
}
for ROUND in $(seq $ROUNDS); do
  bl 64; bl 256
  ql $T/qlserver.new new events 64 0
  ql $T/qlserver.new new events 256 0
  ql $T/qlserver.new new board 64 0
  ql $T/qlserver.new new board 64 1
  ql $T/qlserver.new new-redis events 64 0 REDIS_URL=redis://127.0.0.1:$RPORT/0
  ql $T/qlserver.new new-redis board 64 0 REDIS_URL=redis://127.0.0.1:$RPORT/0
  ql $T/qlserver.new new-redis board 64 1 REDIS_URL=redis://127.0.0.1:$RPORT/0
  ql $T/qlserver.prev prev events 64 0
  ql $T/qlserver.prev prev board 64 0
  ql $T/qlserver.prev prev board 64 1
done
echo "redis-benchmark: $(redis-benchmark -p $RPORT -q -n 100000 -c 64 -t set,get,zadd 2>&1 | tr '\r' '\n' | grep -E 'requests per second' | tr '\n' ' ')"
kill $(cat $T/redis.pid)
