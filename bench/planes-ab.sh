#!/usr/bin/env bash
# What the data planes cost the management API: the same ARM load against `privlink serve` with
# the DNS resolvers and the gateway on (their defaults, on free ports) and off
# (`--no-dns --no-gateway`), each on a new SQLite data dir, in alternating order per round.
# Prints one line per run and the mean ops/s of each setting per scenario. See
# docs/benchmarks.md, "API writes with the data planes on and off".
#
#   bench/planes-ab.sh
#   AB_ROUNDS=1 AB_SECS=5 bench/planes-ab.sh      # quicker
#
# Environment: AB_ROUNDS (default 3), AB_SECS (seconds per run, default 8), AB_CONCURRENCY
# (default 16), AB_SCENARIOS (default "vnet-subnet crud-mix"), BENCH_SKIP_BUILD=1,
# CARGO_TARGET_DIR (honoured).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
AB_ROUNDS=${AB_ROUNDS:-3}
AB_SECS=${AB_SECS:-8}
AB_CONCURRENCY=${AB_CONCURRENCY:-16}
AB_SCENARIOS=${AB_SCENARIOS:-"vnet-subnet crud-mix"}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/privlink-planes-ab.XXXXXX")
SERVER_PID=""
cleanup() {
  [ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release -p privlink -p privlink-bench) 2>&1 | tail -n 1
fi
PRIVLINK=$TARGET_DIR/release/privlink
BENCH=$TARGET_DIR/release/privlink-bench

declare -A FLAGS=(
  [on]="--dns-listen 127.77.0.1:0 --proxy-port 0 --internet-proxy 127.77.255.254:0"
  [off]="--no-dns --no-gateway"
)
declare -A SUM=() COUNT=()

measure() { # SETTING ROUND
  local setting=$1 round=$2 data=$WORK/$1-$2
  # shellcheck disable=SC2086
  "$PRIVLINK" serve --data-dir "$data" --listen 127.0.0.1:0 --provisioning immediate ${FLAGS[$setting]} \
    >"$WORK/$setting-$round.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do [ -s "$data/endpoint.json" ] && break; sleep 0.1; done
  [ -s "$data/endpoint.json" ] || { cat "$WORK/$setting-$round.log"; echo "privlink did not start" >&2; exit 1; }
  for scenario in $AB_SCENARIOS; do
    line=$("$BENCH" arm --endpoint "$data/endpoint.json" --scenario "$scenario" --concurrency "$AB_CONCURRENCY" \
      --duration "$AB_SECS" 2>&1 | grep -E '^arm ' | head -n 1)
    echo "round $round, data planes $setting: $line"
    ops=$(sed -E 's/.*: ([0-9.]+) ops\/s.*/\1/' <<<"$line")
    SUM[$setting-$scenario]=$(awk -v a="${SUM[$setting-$scenario]:-0}" -v b="$ops" 'BEGIN { print a + b }')
    COUNT[$setting-$scenario]=$((${COUNT[$setting-$scenario]:-0} + 1))
  done
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), cores $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$AB_ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="on off"; else order="off on"; fi
  for setting in $order; do measure "$setting" "$round"; done
done
echo
echo "| scenario (c=$AB_CONCURRENCY) | data planes on, ops/s | off, ops/s | on ÷ off |"
echo "|---|---:|---:|---:|"
for scenario in $AB_SCENARIOS; do
  on=$(awk -v s="${SUM[on-$scenario]}" -v n="${COUNT[on-$scenario]}" 'BEGIN { printf "%.1f", s / n }')
  off=$(awk -v s="${SUM[off-$scenario]}" -v n="${COUNT[off-$scenario]}" 'BEGIN { printf "%.1f", s / n }')
  ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2fx", a / b }')
  echo "| $scenario | $on | $off | $ratio |"
done
