#!/usr/bin/env bash
# join_cpu.sh CHECKOUT N: N agents on loopback (ports from BASE, default 17900), all join n0 at once; prints
# per agent the time it first saw N alive (parallel curl+jq polls every 20 ms; POLL=0: none) and its CPU
# (/proc/<pid>/task/*/schedstat, children included) from the join requests to SETTLE s after (NOJOIN=1: no join).
# Used for docs/benchmarks.md "Join (perf-join5)"; run it under the bench lock.
set -u
K=$1; N=${2:-5}; BASE=${BASE:-17900}
dir=$(mktemp -d); pids=()
cleanup(){ for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
. "$(dirname "$0")/agent_lib.sh"
for i in $(seq 0 $((N-1))); do start_agent "$K" "$dir/n$i" "n$i" $((BASE+i)) "${LOGLEVEL:-ERROR}"; done
api(){ curl -s --max-time 5 --unix-socket "$dir/n$1/kunai.sock" "http://localhost$2"; }
for i in $(seq 0 $((N-1))); do for t in $(seq 1 300); do api $i / >/dev/null 2>&1 && break; sleep 0.2; done; done
sleep 2
cpu(){ local tot=0; for c in $(pgrep -P $1) $1; do for t in /proc/$c/task/*/schedstat; do s=$(cut -d' ' -f1 $t 2>/dev/null); tot=$((tot+${s:-0})); done; done; echo $tot; }
declare -a c0; for i in $(seq 0 $((N-1))); do c0[$i]=$(cpu ${pids[$i]}); done
t0=$(date +%s.%N)
jp=(); [ -z "${NOJOIN:-}" ] && for i in $(seq 1 $((N-1))); do curl -s -o /dev/null --max-time 5 --unix-socket "$dir/n$i/kunai.sock" -X POST "http://localhost/agent/join/127.0.0.1:$BASE" & jp+=($!); done
[ "${POLL:-1}" = 1 ] && for i in $(seq 0 $((N-1))); do ( while true; do c=$(api $i /agent/members | jq '[.[]|select(.state=="alive")]|length' 2>/dev/null); [ "${c:-0}" -ge $N ] && { echo "n$i $(echo "$(date +%s.%N) - $t0" | bc)"; break; }; sleep 0.02; done ) & jp+=($!); done
[ ${#jp[@]} -gt 0 ] && wait "${jp[@]}"
sleep ${SETTLE:-1}
for i in $(seq 0 $((N-1))); do echo "cpu n$i $(( ($(cpu ${pids[$i]}) - ${c0[$i]}) / 100000 ))e-1 ms"; done
[ -n "${KEEP:-}" ] && cp -r $dir $KEEP; true
