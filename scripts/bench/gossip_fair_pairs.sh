#!/usr/bin/env bash
# Interleaved Serf / kunai runs of the shared cluster scripts (/work/shared/bench, unchanged), with
# PATH set so that `python3` is Debian's /usr/bin/python3 (~0.03 s to start) rather than the pyenv
# shim (/root/.pyenv/shims/python3, a bash script: ~0.15-0.25 s). kunai-cluster.sh starts one python3
# per poll, N-1 of them in the final sweep, so with the shim ~3 s of a 20-node kunai figure is the
# shim's start-up (serf-cluster.sh polls with `serf members`, ~0.01-0.03 s).
# KUNAI_JQ=1 adds a run: kunai-cluster.sh with count() parsing with jq instead of python3.
# KUNAI_GREP=1 adds a run whose count() is curl | grep -o '"state":"S"' | wc -l: a poll that costs about
# what `serf members` does (~13 ms against ~10 ms here; curl + python3 ~41 ms), to time the agents' own
# convergence rather than the poll's start-ups.
# usage: gossip_fair_pairs.sh CHECKOUT ROUNDS SIZES...   (each round under flock /tmp/kunai-anchor-bench.lock)
# Prints one JSON line per run: {"round", "load" (1-min load average before the run), "python3", "r": <script output>}.
set -u
K=${1:?checkout}; R=${2:-3}; shift 2
S=${SHARED_BENCH:-/work/shared/bench}
P=${FAIR_PATH:-/usr/local/bin:/usr/bin:/bin}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# the same script with count() redefined just before wait_all() (bash keeps the last definition)
sed "/^wait_all(){/i count(){ api \"\$1\" /agent/members | jq --arg s \"\$2\" '[.[] | select(.state==\$s)] | length' 2>/dev/null || echo 0; }" \
  "$S/kunai-cluster.sh" >"$tmp/kunai-jq-poll.sh"
grep -q 'jq --arg' "$tmp/kunai-jq-poll.sh" || { echo "could not patch count()" >&2; exit 1; }
sed "/^wait_all(){/i count(){ api \"\$1\" /agent/members | grep -o \"\\\\\"state\\\\\":\\\\\"\$2\\\\\"\" | wc -l; }" \
  "$S/kunai-cluster.sh" >"$tmp/kunai-grep-poll.sh"
grep -q 'grep -o' "$tmp/kunai-grep-poll.sh" || { echo "could not patch count()" >&2; exit 1; }
# one run, at most 150 s (a serf agent that fails to bind leaves serf-cluster.sh waiting forever)
run(){ local out; out=$(PATH=$P timeout -k 5 150 bash "$@" 2>/dev/null); [ -n "$out" ] || out='{"error":"timeout or failure"}'; echo "$out"; }
line(){ echo "{\"round\":$1,\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"python3\":\"$(PATH=$P command -v python3)\",\"poll\":\"$2\",\"r\":$3}"; }
for r in $(seq 1 "$R"); do for n in "$@"; do
  line "$r" "serf members" "$(run "$S/serf-cluster.sh" "$n")"
  line "$r" "curl+python3" "$(run "$S/kunai-cluster.sh" "$K" "$n")"
  [ "${KUNAI_JQ:-0}" = 1 ] && line "$r" "curl+jq" "$(run "$tmp/kunai-jq-poll.sh" "$K" "$n")"
  [ "${KUNAI_GREP:-0}" = 1 ] && line "$r" "curl+grep" "$(run "$tmp/kunai-grep-poll.sh" "$K" "$n")"
done; done
exit 0
