#!/usr/bin/env bash
# privlink vs Moto benchmark: builds the release binaries, starts Moto's server and privlink
# (SQLite in a temp dir; a new, empty server for every run, as Moto is reset before each of its
# runs) on 127.0.0.1, runs the load scenarios, the IPAM measurement, the private-endpoint runs,
# the DNS comparison with unbound (bench/dns.sh) and the gateway comparison with a direct
# connection and haproxy (bench/gateway.sh), then prints a summary. Raw JSON lines,
# logs and the summary go to bench/out/ (gitignored). See docs/benchmarks.md.
#
#   bench/run.sh                  # 10 s per load run (about 5 minutes in all on 2 cores)
#   BENCH_SECS=3 bench/run.sh     # quicker
#
# Environment: BENCH_SECS (seconds per load run, default 10), BENCH_CONCURRENCY (default
# "1 16 64"), BENCH_IPAM_FILL (addresses in use before the second IPAM sample, default 60000),
# BENCH_SKIP_IPAM=1, BENCH_PE_PREFILL (endpoints present before the second timed endpoint run,
# default 10000), BENCH_PE_SCALE (endpoints in the scale run, default 64000, Azure's limit per
# subscription), BENCH_PE_BUDGET (seconds the prefill or the scale run may take, default 360),
# BENCH_SKIP_ENDPOINTS=1, BENCH_SKIP_DNS=1 (bench/dns.sh, which has settings of its own: DNS_*),
# BENCH_SKIP_GATEWAY=1 (bench/gateway.sh, settings GW_*),
# BENCH_FRESH=0 (one privlink server for the load runs and IPAM instead
# of a new, empty one per run; each endpoint run always gets a new server), CARGO_TARGET_DIR
# (honoured), PRIVLINK_VENV_DIR (default ~/.cache/privlink; Moto's venv is venv-moto in it).
# The 64,000-endpoint run needs about 25 GB free in $TMPDIR (see docs/benchmarks.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_SECS=${BENCH_SECS:-10}
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-"1 16 64"}
BENCH_IPAM_FILL=${BENCH_IPAM_FILL:-60000}
BENCH_PE_PREFILL=${BENCH_PE_PREFILL:-10000}
BENCH_PE_SCALE=${BENCH_PE_SCALE:-64000}
BENCH_PE_BUDGET=${BENCH_PE_BUDGET:-360}
MOTO_VERSION=5.2.5
VENV=${PRIVLINK_VENV_DIR:-$HOME/.cache/privlink}/venv-moto
OUT=$ROOT/bench/out
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results-$STAMP.jsonl
LOG=$OUT/run-$STAMP.log
mkdir -p "$OUT"

BENCH_TMP=$OUT
CLIENT_LABEL="bench client"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

log "privlink benchmark $STAMP (BENCH_SECS=$BENCH_SECS, concurrency: $BENCH_CONCURRENCY)"
machine_facts | tee -a "$LOG"

log "building release binaries"
(cd "$ROOT" && cargo build --release -p privlink -p privlink-bench) 2>&1 | tail -n 3 | tee -a "$LOG"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PRIVLINK=$TARGET_DIR/release/privlink
BENCH=$TARGET_DIR/release/privlink-bench

# Moto in its own venv, pinned.
if ! "$VENV/bin/python" -c "import sys, moto; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
   || [ ! -x "$VENV/bin/moto_server" ]; then
  log "installing moto[server]==$MOTO_VERSION into $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" 2>&1 | tee -a "$LOG"
fi
echo "moto: $("$VENV/bin/python" -c 'import moto; print(moto.__version__)'), $("$VENV/bin/python" --version)" | tee -a "$LOG"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/privlink-bench.XXXXXX")
PRIVLINK_PID=""
MOTO_PID=""
cleanup() {
  stop_pid "$PRIVLINK_PID"
  stop_pid "$MOTO_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A privlink server on a new, empty SQLite data dir (unless BENCH_FRESH=0 and one is running):
# every run starts from an empty store, as every Moto run starts from a reset Moto.
# `start_privlink fresh` always starts a new one.
SERVERS=0
start_privlink() {
  if [ "${1:-}" != fresh ] && [ "${BENCH_FRESH:-1}" = 0 ] && [ -n "$PRIVLINK_PID" ]; then return 0; fi
  stop_pid "$PRIVLINK_PID"
  PRIVLINK_PID=""
  rm -rf "$WORK/data"
  SERVERS=$((SERVERS + 1))
  local data=$WORK/data
  mkdir -p "$data"
  "$PRIVLINK" serve --data-dir "$data" --listen 127.0.0.1:0 --provisioning immediate \
    >>"$OUT/privlink-$STAMP.log" 2>&1 &
  PRIVLINK_PID=$!
  wait_endpoint "$data" "$PRIVLINK_PID" "$OUT/privlink-$STAMP.log"
  ENDPOINT=$data/endpoint.json
  echo "privlink server #$SERVERS (pid $PRIVLINK_PID) on $(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$ENDPOINT"), SQLite in $data" >>"$LOG"
}

MOTO_PORT=$(free_port)
log "starting moto_server on 127.0.0.1:$MOTO_PORT"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$OUT/moto-$STAMP.log" 2>&1 &
MOTO_PID=$!
MOTO_URL=http://127.0.0.1:$MOTO_PORT
for _ in $(seq 300); do
  curl -sf -o /dev/null -X POST "$MOTO_URL/moto-api/reset" && break
  kill -0 "$MOTO_PID" 2>/dev/null || { cat "$OUT/moto-$STAMP.log"; echo "moto_server exited" >&2; exit 1; }
  sleep 0.1
done
curl -sf -o /dev/null -X POST "$MOTO_URL/moto-api/reset" || { echo "moto_server did not start within 30 s" >&2; exit 1; }

# One bench command, with the CPU of the current privlink server and of Moto recorded.
run() {
  BENCH_PIDS=(privlink="$PRIVLINK_PID" moto="$MOTO_PID")
  bench_run "$@"
}

for c in $BENCH_CONCURRENCY; do
  start_privlink
  run arm --endpoint "$ENDPOINT" --scenario vnet-subnet --concurrency "$c" --duration "$BENCH_SECS"
  start_privlink
  run arm --endpoint "$ENDPOINT" --scenario crud-mix --concurrency "$c" --duration "$BENCH_SECS"
  run moto --url "$MOTO_URL" --reset --concurrency "$c" --duration "$BENCH_SECS"
done

if [ "${BENCH_SKIP_IPAM:-0}" != 1 ]; then
  start_privlink
  run ipam --endpoint "$ENDPOINT" --sample 1000 --fill-to "$BENCH_IPAM_FILL" --fill-concurrency 16 --fill-budget-secs 170
fi

# Private endpoint create to Succeeded, each run on a new, empty server: at c=16 on an empty
# store, then with BENCH_PE_PREFILL endpoints created first, then BENCH_PE_SCALE endpoints in one
# subscription (1,000 per VNet) compared by decile.
if [ "${BENCH_SKIP_ENDPOINTS:-0}" != 1 ]; then
  start_privlink fresh
  run endpoints --endpoint "$ENDPOINT" --concurrency 16 --duration "$BENCH_SECS"
  start_privlink fresh
  run endpoints --endpoint "$ENDPOINT" --concurrency 16 --duration "$BENCH_SECS" \
    --prefill "$BENCH_PE_PREFILL" --fill-concurrency 16 --budget-secs "$BENCH_PE_BUDGET"
  start_privlink fresh
  run endpoints --endpoint "$ENDPOINT" --concurrency 16 --scale "$BENCH_PE_SCALE" --per-vnet 1000 \
    --budget-secs "$BENCH_PE_BUDGET"
fi

# The DNS resolver against unbound (its own servers; see bench/dns.sh), into the same results.
if [ "${BENCH_SKIP_DNS:-0}" != 1 ]; then
  log "DNS: privlink vs unbound (bench/dns.sh)"
  BENCH_RESULTS=$RESULTS BENCH_SKIP_BUILD=1 "$ROOT/bench/dns.sh" 2>&1 | tee -a "$LOG" || FAILED=$((FAILED + 1))
fi

# The gateway against a direct connection and haproxy (its own servers; see bench/gateway.sh).
if [ "${BENCH_SKIP_GATEWAY:-0}" != 1 ]; then
  log "gateway: privlink vs direct vs haproxy (bench/gateway.sh)"
  BENCH_RESULTS=$RESULTS BENCH_SKIP_BUILD=1 "$ROOT/bench/gateway.sh" 2>&1 | tee -a "$LOG" || FAILED=$((FAILED + 1))
fi

log "summary"
"$BENCH" summary "$RESULTS" | tee "$OUT/summary-$STAMP.md" | tee -a "$LOG"
cp "$RESULTS" "$OUT/latest.jsonl"
echo "raw results: $RESULTS"
echo "log:         $LOG"
[ "$FAILED" = 0 ] || { echo "$FAILED bench run(s) failed: see the log" >&2; exit 1; }
