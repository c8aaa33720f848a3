#!/usr/bin/env bash
# privlink's per-VNet DNS resolver against unbound with the same records, in the same run:
# builds the release binaries, starts privlink (a new, empty SQLite data dir) and unbound (a
# config generated from what privlink holds, in the foreground) on loopback, creates the world
# through the ARM API, compares the answers, runs dnsperf against each server in alternating
# rounds (unpaced, then paced with -Q), runs privlink-bench's paced latency load (p50/p99/p99.9),
# prints the privlink / unbound table, and stops everything. JSON lines, logs and the summary go
# to bench/out/ (gitignored). See docs/benchmarks.md, "DNS: privlink vs unbound".
#
#   bench/dns.sh
#   DNS_SECS=5 DNS_ROUNDS=1 bench/dns.sh      # quicker
#
# Environment: DNS_RECORDS (A record sets, default 1000), DNS_ACCOUNTS (storage accounts with a
# private endpoint, so public CNAME chains exist; default 4), DNS_SECS (seconds per dnsperf run
# and per paced run, default 10), DNS_ROUNDS (alternating rounds, default 2), DNS_DNSPERF
# (dnsperf's unpaced options, default "-c 8 -T 2"), DNS_DNSPERF_QPS (its -Q run, default
# 20000), DNS_RATES (the paced load's rates, default "20000,50000"), DNS_UNBOUND_THREADS
# (default: the number of cores), DNS_QUIET_WAIT (seconds to wait for an idle machine before
# each measurement, default 0), BENCH_RESULTS (append the JSON lines to this file instead of
# a new one: bench/run.sh passes its own), BENCH_SKIP_BUILD=1, CARGO_TARGET_DIR (honoured).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DNS_RECORDS=${DNS_RECORDS:-1000}
DNS_ACCOUNTS=${DNS_ACCOUNTS:-4}
DNS_SECS=${DNS_SECS:-10}
DNS_ROUNDS=${DNS_ROUNDS:-2}
DNS_DNSPERF=${DNS_DNSPERF:-"-c 8 -T 2"}
DNS_DNSPERF_QPS=${DNS_DNSPERF_QPS:-20000}
DNS_RATES=${DNS_RATES:-"20000,50000"}
DNS_UNBOUND_THREADS=${DNS_UNBOUND_THREADS:-$(nproc)}
OUT=$ROOT/bench/out
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${BENCH_RESULTS:-$OUT/results-dns-$STAMP.jsonl}
LOG=$OUT/dns-$STAMP.log
mkdir -p "$OUT"

log() { echo "== $*" | tee -a "$LOG"; }

for tool in dnsperf unbound unbound-checkconf; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y dnsperf unbound" >&2; exit 1; }
done

log "DNS benchmark $STAMP (records $DNS_RECORDS, accounts $DNS_ACCOUNTS, $DNS_SECS s per run, $DNS_ROUNDS rounds)"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "cores: $(nproc)"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
  echo "unbound: $(unbound -V 2>/dev/null | sed -n 's/^Version //p'), $DNS_UNBOUND_THREADS threads"
  echo "dnsperf: $(dnsperf -h 2>&1 | sed -n 's/^Version //p')"
} | tee -a "$LOG"

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building release binaries"
  (cd "$ROOT" && cargo build --release -p privlink -p privlink-bench) 2>&1 | tail -n 3 | tee -a "$LOG"
fi
PRIVLINK=$TARGET_DIR/release/privlink
BENCH=$TARGET_DIR/release/privlink-bench

WORK=$(mktemp -d "${TMPDIR:-/tmp}/privlink-dns.XXXXXX")
PRIVLINK_PID=""
UNBOUND_PID=""
stop_pid() { # bounded: TERM, up to 10 s, then KILL
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$UNBOUND_PID"
  stop_pid "$PRIVLINK_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# A port free for UDP and TCP on a loopback address.
free_port() {
  python3 - "$1" <<'PY'
import socket, sys
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], 0))
    port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind((sys.argv[1], port)); print(port); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
PY
}

log "starting privlink (release, new data dir)"
mkdir -p "$WORK/data"
"$PRIVLINK" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 --provisioning immediate \
  --dns-listen 127.77.0.1:0 >>"$OUT/privlink-dns-$STAMP.log" 2>&1 &
PRIVLINK_PID=$!
for _ in $(seq 300); do
  [ -s "$WORK/data/endpoint.json" ] && break
  kill -0 "$PRIVLINK_PID" 2>/dev/null || { cat "$OUT/privlink-dns-$STAMP.log"; echo "privlink exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$WORK/data/endpoint.json" ] || { echo "privlink did not start within 30 s" >&2; exit 1; }

UNBOUND_IP=127.78.0.1
UNBOUND_PORT=$(free_port $UNBOUND_IP)
UNBOUND=$UNBOUND_IP:$UNBOUND_PORT

CLK_TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
child_cpu() {
  times >"$WORK/.times"
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } print s }' "$WORK/.times"
}
machine() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }

# On a shared machine: wait up to DNS_QUIET_WAIT seconds (default 0) for it to be idle (under
# 10% busy over one second) before each measurement. The JSON lines record what else ran anyway.
wait_quiet() {
  local deadline b0 t0 b1 t1
  deadline=$(( $(date +%s) + ${DNS_QUIET_WAIT:-0} ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    read -r b0 t0 < <(machine); sleep 1; read -r b1 t1 < <(machine)
    [ $(( 100 * (b1 - b0) )) -lt $(( 10 * (t1 - t0) )) ] && return 0
  done
  return 0
}

# One privlink-bench command: human lines to the terminal and the log, JSON lines to RESULTS,
# and the CPU each server, the client (privlink-bench and the dnsperf it runs) and the whole
# machine used meanwhile.
FAILED=0
run() {
  wait_quiet
  log "privlink-bench $*  (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  local status=0 p0 u0 c0 busy0 total0 busy1 total1 wall0
  # (`times` must run in this shell: a $(...) subshell has no finished children.)
  p0=$(ticks "$PRIVLINK_PID"); u0=$(ticks "${UNBOUND_PID:-0}"); child_cpu >"$WORK/.c0"; c0=$(cat "$WORK/.c0")
  read -r busy0 total0 < <(machine); wall0=$(date +%s.%N)
  "$BENCH" "$@" 2>&1 | tee "$WORK/.last-run" | { grep --line-buffered -v '^{' || true; } || status=$?
  read -r busy1 total1 < <(machine)
  child_cpu >"$WORK/.c1"
  awk -v p="$(( $(ticks "$PRIVLINK_PID") - p0 ))" -v u="$(( $(ticks "${UNBOUND_PID:-0}") - u0 ))" -v hz="$CLK_TCK" \
      -v b="$(( busy1 - busy0 ))" -v t="$(( total1 - total0 ))" -v w0="$wall0" -v w1="$(date +%s.%N)" \
      -v c0="$c0" -v c1="$(cat "$WORK/.c1")" \
      'BEGIN { printf "    cpu: privlink %.1f s, unbound %.1f s, client %.1f s, machine busy %.0f%% of %.1f s wall\n", p/hz, u/hz, c1-c0, (t > 0 ? 100*b/t : 0), w1-w0 }' \
      | tee -a "$WORK/.last-run"
  cat "$WORK/.last-run" >>"$LOG"
  grep '^{' "$WORK/.last-run" >>"$RESULTS" || true
  if [ "$status" != 0 ]; then
    log "FAILED (exit $status): privlink-bench $*"
    FAILED=$((FAILED + 1))
  fi
}

run dns setup --endpoint "$WORK/data/endpoint.json" --records "$DNS_RECORDS" --storage-accounts "$DNS_ACCOUNTS" \
  --out "$WORK/dns" --unbound-listen "$UNBOUND" --unbound-threads "$DNS_UNBOUND_THREADS"
[ -s "$WORK/dns/resolver" ] || { echo "setup failed: see $LOG" >&2; exit 1; }
PRIVLINK_DNS=$(cat "$WORK/dns/resolver")
cp "$WORK/dns/unbound.conf" "$OUT/unbound-$STAMP.conf"

log "starting unbound on $UNBOUND (config: $OUT/unbound-$STAMP.conf)"
unbound-checkconf "$WORK/dns/unbound.conf" | tee -a "$LOG"
unbound -d -c "$WORK/dns/unbound.conf" >>"$OUT/unbound-$STAMP.log" 2>&1 &
UNBOUND_PID=$!

QUERIES=$WORK/dns/queries.txt
# Each measurement records the servers' CPU time (and what else ran on the machine meanwhile).
PIDS=(--pid privlink="$PRIVLINK_PID" --pid unbound="$UNBOUND_PID")
run dns check --server privlink="$PRIVLINK_DNS" --server unbound="$UNBOUND" --queries "$QUERIES"

# Alternating rounds: privlink first in odd rounds, unbound first in even ones.
servers_of_round() {
  if [ $(( $1 % 2 )) = 1 ]; then echo "privlink=$PRIVLINK_DNS unbound=$UNBOUND"; else echo "unbound=$UNBOUND privlink=$PRIVLINK_DNS"; fi
}
for round in $(seq "$DNS_ROUNDS"); do
  for s in $(servers_of_round "$round"); do
    # shellcheck disable=SC2086 # DNS_DNSPERF is a list of options
    run dns dnsperf --server "$s" --queries "$QUERIES" --round "$round" "${PIDS[@]}" -- $DNS_DNSPERF -l "$DNS_SECS"
  done
  for s in $(servers_of_round "$round"); do
    # shellcheck disable=SC2086
    run dns dnsperf --server "$s" --queries "$QUERIES" --round "$round" "${PIDS[@]}" -- $DNS_DNSPERF -Q "$DNS_DNSPERF_QPS" -l "$DNS_SECS"
  done
done

run dns load --server privlink="$PRIVLINK_DNS" --server unbound="$UNBOUND" --queries "$QUERIES" \
  --rates "$DNS_RATES" --duration "$DNS_SECS" --rounds "$DNS_ROUNDS" "${PIDS[@]}"

# Under bench/run.sh (BENCH_RESULTS set) its summary at the end covers these lines too.
if [ -z "${BENCH_RESULTS:-}" ]; then
  log "summary"
  "$BENCH" summary "$RESULTS" | tee "$OUT/summary-dns-$STAMP.md" | tee -a "$LOG"
fi
echo "raw results: $RESULTS"
echo "log:         $LOG"
[ "$FAILED" = 0 ] || { echo "$FAILED DNS bench run(s) failed: see the log" >&2; exit 1; }
