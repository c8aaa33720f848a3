# Shell helpers shared by bench/run.sh, bench/dns.sh and bench/gateway.sh (sourced, not run).
#
# Before sourcing, a script sets LOG (its log file) and BENCH_TMP (a directory for scratch files;
# `child_cpu` writes there). After sourcing it fills BENCH_PIDS (NAME=PID of the servers whose
# CPU each `bench_run` records) and may set CLIENT_LABEL (how the cpu line names the client).
# shellcheck shell=bash

log() { echo "== $*" | tee -a "$LOG"; }

# The machine and software facts every log starts with.
machine_facts() {
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "cores: $(nproc)"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  echo "memory: $(free -h 2>/dev/null | awk '/^Mem:/ {print $2}')"
  echo "kernel: $(uname -r)"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
}

# The release binaries into PRIVLINK and BENCH, built first unless BENCH_SKIP_BUILD=1 (as
# bench/run.sh passes to the parts it runs, having built them).
release_binaries() {
  local target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
  if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release -p privlink -p privlink-bench) 2>&1 | tail -n 3 | tee -a "$LOG"
  fi
  PRIVLINK=$target_dir/release/privlink
  BENCH=$target_dir/release/privlink-bench
}

# The end of bench/dns.sh or bench/gateway.sh: the summary when run alone (under bench/run.sh,
# BENCH_RESULTS set, its summary at the end covers these lines too), where the results are, and
# the exit status.
finish_part() { # NAME (of the summary file) LABEL (in the failure message)
  if [ -z "${BENCH_RESULTS:-}" ]; then
    log "summary"
    "$BENCH" summary "$RESULTS" | tee "$OUT/summary-$1-$STAMP.md" | tee -a "$LOG"
  fi
  echo "raw results: $RESULTS"
  echo "log:         $LOG"
  [ "$FAILED" = 0 ] || { echo "$FAILED $2 bench run(s) failed: see the log" >&2; exit 1; }
}

# The processes with the most CPU (ps: lifetime average), for the log: who else is on the machine.
top_processes() {
  ps -eo pid,pcpu,etime,comm --sort=-pcpu 2>/dev/null | head -n "${1:-6}"
}

stop_pid() { # bounded: TERM, up to 10 s, then KILL
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Wait (up to 30 s) for a privlink server to write DATA/endpoint.json; give up (showing its log)
# if it exits first.
wait_endpoint() {
  local data=$1 pid=$2 server_log=$3
  for _ in $(seq 300); do
    [ -s "$data/endpoint.json" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$server_log"; echo "privlink exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "privlink did not start within 30 s" >&2
  exit 1
}

# A free TCP port on IP (default 127.0.0.1); with `udp` as second argument, free for UDP and
# TCP both.
free_port() {
  python3 - "${1:-127.0.0.1}" "${2:-tcp}" <<'PY'
import socket, sys
ip, kind = sys.argv[1], sys.argv[2]
for _ in range(50):
    t = socket.socket()
    try:
        t.bind((ip, 0))
        port = t.getsockname()[1]
        if kind != "udp":
            print(port); break
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((ip, port)); print(port); break
        except OSError:
            pass
        finally:
            u.close()
    finally:
        t.close()
PY
}

CLK_TCK=$(getconf CLK_TCK)
# CPU ticks (user + system) a process has used so far (0 when it is gone or not given).
ticks() { if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }
# CPU seconds (user + system) used by this script's finished children: the bench client (and
# what it ran, e.g. dnsperf). `times` must run in this shell, not in a $(...) subshell, which has
# no finished children: hence the file.
child_cpu() {
  times >"$BENCH_TMP/.times"
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } print s }' "$BENCH_TMP/.times"
}
# Busy and total ticks of the whole machine.
machine() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }

# On a shared machine: wait up to $1 seconds (default 0) for it to be idle (under 10% busy over
# one second). The measurements record what else ran anyway.
wait_quiet() {
  local deadline b0 t0 b1 t1
  deadline=$(( $(date +%s) + ${1:-0} ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    read -r b0 t0 < <(machine); sleep 1; read -r b1 t1 < <(machine)
    [ $(( 100 * (b1 - b0) )) -lt $(( 10 * (t1 - t0) )) ] && return 0
  done
  return 0
}

BENCH_PIDS=()
CLIENT_LABEL=${CLIENT_LABEL:-client}
FAILED=0
# Run one privlink-bench command: human lines to the terminal and the log, JSON lines to
# RESULTS, and the CPU each server in BENCH_PIDS, the client and the whole machine used meanwhile.
bench_run() {
  log "privlink-bench $*  (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  local status=0 c0 busy0 total0 busy1 total1 wall0 entry before=() servers=""
  for entry in "${BENCH_PIDS[@]}"; do before+=("$(ticks "${entry#*=}")"); done
  child_cpu >"$BENCH_TMP/.c0"; c0=$(cat "$BENCH_TMP/.c0")
  read -r busy0 total0 < <(machine); wall0=$(date +%s.%N)
  "$BENCH" "$@" 2>&1 | tee "$BENCH_TMP/.last-run" | { grep --line-buffered -v '^{' || true; } || status=$?
  read -r busy1 total1 < <(machine)
  child_cpu >"$BENCH_TMP/.c1"
  local i=0
  for entry in "${BENCH_PIDS[@]}"; do
    servers+="${entry%%=*} $(awk -v t="$(( $(ticks "${entry#*=}") - before[i] ))" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t/hz }') s, "
    i=$((i + 1))
  done
  awk -v s="$servers" -v label="$CLIENT_LABEL" -v hz="$CLK_TCK" \
      -v b="$(( busy1 - busy0 ))" -v t="$(( total1 - total0 ))" -v w0="$wall0" -v w1="$(date +%s.%N)" \
      -v c0="$c0" -v c1="$(cat "$BENCH_TMP/.c1")" \
      'BEGIN { printf "    cpu: %s%s %.1f s, machine busy %.0f%% of %.1f s wall\n", s, label, c1-c0, (t > 0 ? 100*b/t : 0), w1-w0 }' \
      | tee -a "$BENCH_TMP/.last-run"
  cat "$BENCH_TMP/.last-run" >>"$LOG"
  grep '^{' "$BENCH_TMP/.last-run" >>"$RESULTS" || true
  rm -f "$BENCH_TMP/.last-run" "$BENCH_TMP/.times" "$BENCH_TMP/.c0" "$BENCH_TMP/.c1"
  if [ "$status" != 0 ]; then
    log "FAILED (exit $status): privlink-bench $*"
    FAILED=$((FAILED + 1))
  fi
}
