#!/usr/bin/env bash
# privlink vs Moto benchmark: builds the release binaries, starts Moto's server and privlink
# (SQLite in a temp dir; a new, empty server for every run, as Moto is reset before each of its
# runs) on 127.0.0.1, runs the load scenarios, the IPAM measurement, the private-endpoint runs
# and the DNS comparison with unbound (bench/dns.sh), then prints a summary. Raw JSON lines,
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

log() { echo "== $*" | tee -a "$LOG"; }

log "privlink benchmark $STAMP (BENCH_SECS=$BENCH_SECS, concurrency: $BENCH_CONCURRENCY)"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "cores: $(nproc)"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  echo "memory: $(free -h 2>/dev/null | awk '/^Mem:/ {print $2}')"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
} | tee -a "$LOG"

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
stop_pid() { # bounded: TERM, up to 10 s, then KILL
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$PRIVLINK_PID"
  stop_pid "$MOTO_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

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
  for _ in $(seq 300); do
    [ -s "$data/endpoint.json" ] && break
    kill -0 "$PRIVLINK_PID" 2>/dev/null || { cat "$OUT/privlink-$STAMP.log"; echo "privlink exited" >&2; exit 1; }
    sleep 0.1
  done
  [ -s "$data/endpoint.json" ] || { echo "privlink did not start within 30 s" >&2; exit 1; }
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

CLK_TCK=$(getconf CLK_TCK)
# CPU ticks (user + system) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU seconds (user + system) used by this script's finished children: the bench client.
# (`times` must run in this shell, not in a $(...) subshell, which has no finished children.)
child_cpu() {
  times >"$OUT/.times"
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } print s }' "$OUT/.times"
}
# Busy and total ticks of the whole machine.
machine() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }

# Run one bench command: human lines to the terminal and the log, JSON lines to RESULTS, and
# the CPU each server and the whole machine used meanwhile.
run() {
  log "privlink-bench $*  (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  local status=0 p0 m0 c0 busy0 total0 busy1 total1 wall0
  p0=$(ticks "$PRIVLINK_PID"); m0=$(ticks "$MOTO_PID"); child_cpu >"$OUT/.c0"; c0=$(cat "$OUT/.c0"); read -r busy0 total0 < <(machine); wall0=$(date +%s.%N)
  "$BENCH" "$@" 2>&1 | tee "$OUT/.last-run" | { grep --line-buffered -v '^{' || true; } || status=$?
  read -r busy1 total1 < <(machine)
  child_cpu >"$OUT/.c1"
  awk -v p="$(( $(ticks "$PRIVLINK_PID") - p0 ))" -v m="$(( $(ticks "$MOTO_PID") - m0 ))" -v hz="$CLK_TCK" \
      -v b="$(( busy1 - busy0 ))" -v t="$(( total1 - total0 ))" -v w0="$wall0" -v w1="$(date +%s.%N)" \
      -v c0="$c0" -v c1="$(cat "$OUT/.c1")" \
      'BEGIN { printf "    cpu: privlink %.1f s, moto %.1f s, bench client %.1f s, machine busy %.0f%% of %.1f s wall\n", p/hz, m/hz, c1-c0, (t > 0 ? 100*b/t : 0), w1-w0 }' \
      | tee -a "$OUT/.last-run"
  cat "$OUT/.last-run" >>"$LOG"
  grep '^{' "$OUT/.last-run" >>"$RESULTS" || true
  rm -f "$OUT/.last-run" "$OUT/.times" "$OUT/.c0" "$OUT/.c1"
  if [ "$status" != 0 ]; then
    log "FAILED (exit $status): privlink-bench $*"
    FAILED=$((FAILED + 1))
  fi
}
FAILED=0

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

log "summary"
"$BENCH" summary "$RESULTS" | tee "$OUT/summary-$STAMP.md" | tee -a "$LOG"
cp "$RESULTS" "$OUT/latest.jsonl"
echo "raw results: $RESULTS"
echo "log:         $LOG"
[ "$FAILED" = 0 ] || { echo "$FAILED bench run(s) failed: see the log" >&2; exit 1; }
