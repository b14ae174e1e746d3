#!/usr/bin/env bash
# Idle agents side by side: one default agent (the configuration kunai-cluster.sh writes) per LABEL=CHECKOUT,
# all started together; after WARM seconds (70), N windows of WINDOW_S seconds each, one line per agent per
# window: CPU ticks (utime+stime), schedstat of all threads and of the main thread (ms), RSS (kB).
# usage: bash scripts/bench/idle_ab.sh WINDOW_S N LABEL=CHECKOUT [LABEL=CHECKOUT ...]
#   e.g. WARM=60 bash scripts/bench/idle_ab.sh 120 1 before=/path/a after=/path/b before2=/path/a after2=/path/b
# env: WARM (70; `ready`: from the moment every agent's API answers, as the anchor sitting measures),
#   PORT_BASE (46100), ENV_<LABEL>: VAR=value words for that label's agent, no spaces inside a value
#   (e.g. ENV_b='KUNAI_V8_FLAGS=--max-semi-space-size=1,--no-maglev' to compare flags on one checkout),
#   CFG_<LABEL>: more members of that label's local.json (e.g. CFG_b='"metrics": {"max_series": 1}')
set -u
W=${1:?window seconds}; N=${2:?windows}; shift 2
dir=$(mktemp -d -t kunai-idle-ab.XXXXXX); pids=(); labels=(); i=0
cleanup(){ for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 1; rm -rf "$dir"; }
trap cleanup EXIT
. "$(dirname "$0")/agent_lib.sh"
for spec in "$@"; do
  i=$((i+1)); labels+=("${spec%%=*}")
  envvar="ENV_${spec%%=*}"; cfgvar="CFG_${spec%%=*}"
  AGENT_ENV="${!envvar:-}" AGENT_CFG="${!cfgvar:-}" \
    start_agent "${spec#*=}" "$dir/a$i" "idle$i" $(( ${PORT_BASE:-46100} + i ))
done
if [ "${WARM:-70}" = ready ]; then # as the anchor sitting measures: from the moment every agent's API answers
  for k in "${!pids[@]}"; do
    for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$(( ${PORT_BASE:-46100} + k + 1 ))/" && break; sleep 0.05; done
  done
else sleep "${WARM:-70}"; fi
ticks(){ awk '{s=$0; sub(/.*\) /,"",s); split(s,f," "); print f[12]+f[13]}' "/proc/$1/stat"; }
mainns(){ awk '{print $1}' "/proc/$1/task/$1/schedstat"; }
allns(){ cat /proc/"$1"/task/*/schedstat | awk '{s+=$1} END{printf "%d", s}'; }
declare -a c0 n0 m0
for k in "${!pids[@]}"; do c0[$k]=$(ticks "${pids[$k]}"); n0[$k]=$(allns "${pids[$k]}"); m0[$k]=$(mainns "${pids[$k]}"); done
for w in $(seq 1 "$N"); do
  sleep "$W"
  for k in "${!pids[@]}"; do
    p=${pids[$k]}; c1=$(ticks "$p"); n1=$(allns "$p"); m1=$(mainns "$p"); r=$(awk '/VmRSS/{print $2}' "/proc/$p/status")
    echo "window $w ${labels[$k]} ticks $((c1 - c0[$k])) sched_ms $(( (n1 - n0[$k]) / 1000000 )) main_ms $(( (m1 - m0[$k]) / 1000000 )) rss_kb $r"
    c0[$k]=$c1; n0[$k]=$n1; m0[$k]=$m1
  done
done
