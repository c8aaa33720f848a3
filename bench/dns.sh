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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/privlink-dns.XXXXXX")
BENCH_TMP=$WORK
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PRIVLINK_PID=""
UNBOUND_PID=""
cleanup() {
  stop_pid "$UNBOUND_PID"
  stop_pid "$PRIVLINK_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

for tool in dnsperf unbound unbound-checkconf; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y dnsperf unbound" >&2; exit 1; }
done

log "DNS benchmark $STAMP (records $DNS_RECORDS, accounts $DNS_ACCOUNTS, $DNS_SECS s per run, $DNS_ROUNDS rounds)"
{
  machine_facts
  echo "unbound: $(unbound -V 2>/dev/null | sed -n 's/^Version //p'), $DNS_UNBOUND_THREADS threads"
  echo "dnsperf: $(dnsperf -h 2>&1 | sed -n 's/^Version //p')"
} | tee -a "$LOG"

release_binaries

log "starting privlink (release, new data dir)"
mkdir -p "$WORK/data"
"$PRIVLINK" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 --provisioning immediate \
  --dns-listen 127.77.0.1:0 >>"$OUT/privlink-dns-$STAMP.log" 2>&1 &
PRIVLINK_PID=$!
wait_endpoint "$WORK/data" "$PRIVLINK_PID" "$OUT/privlink-dns-$STAMP.log"

UNBOUND_IP=127.78.0.1
UNBOUND_PORT=$(free_port $UNBOUND_IP udp)
UNBOUND=$UNBOUND_IP:$UNBOUND_PORT

# One privlink-bench command, after waiting (up to DNS_QUIET_WAIT seconds, default 0) for an
# idle machine, with the CPU of both servers and of the client (privlink-bench and the dnsperf
# it runs) recorded.
run() {
  wait_quiet "${DNS_QUIET_WAIT:-0}"
  BENCH_PIDS=(privlink="$PRIVLINK_PID" unbound="$UNBOUND_PID")
  bench_run "$@"
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

finish_part dns DNS
