#!/usr/bin/env bash
# The 64-client write row's spread inside one cluster: 3 agents tagged kv on loopback (as the shared
# kunai-kv-cluster.sh starts them), preload, then RUNS (8) put runs of DURATION (10) s at CONC (64)
# clients with the shared kv-load.mjs, one JSON line per run: writes/s, p99, each server's CPU %, the
# generator's, and per node what /agent/info's kv counters moved by (c: coordinated, r: replicated in,
# g: group commits, pr: peer messages, pb: items in them, f: forwarded).
# usage: flock /tmp/kunai-anchor-bench.lock bash scripts/bench/kv_rounds.sh CHECKOUT
# env: KBASE (21500), RUNS, CONC, DURATION, WARM ("put get": 16-client runs first), KV_LOAD
set -u
K=$(cd "${1:?checkout}" && pwd); B=${KBASE:-21500}; N=${RUNS:-8}; C=${CONC:-64}
. "$(dirname "$0")/kv_cluster_lib.sh"
w=$(mktemp -d -t kunai-kv-r.XXXXXX)
trap 'kv_cluster_cleanup "$w"' EXIT
kv_cluster_start "$K" "$B" "$w"
info(){ for i in 1 2 3; do curl -s "http://127.0.0.1:$((B+i))/agent/info" | jq -c '.kv | {c:.coordinated, r:.replicated_in, g:.group_commits, pr:.peer_requests, pb:.peer_batched_items, f:.forwarded}'; done | jq -sc .; }
KV_TOKEN=tok node "$LOAD" preload --endpoints "$E" --api kunai >/dev/null
for op in ${WARM:-}; do KV_TOKEN=tok node "$LOAD" bench --endpoints "$E" --api kunai --op $op --concurrency 16 --duration 10 --pid-files "$P" >/dev/null; done
for r in $(seq 1 $N); do
  a=$(info)
  v=$(KV_TOKEN=tok node "$LOAD" bench --endpoints "$E" --api kunai --op put --concurrency $C --duration ${DURATION:-10} --pid-files "$P")
  b=$(info)
  echo "{\"run\":$r,\"bench\":$v,\"a\":$a,\"b\":$b}" | jq -c '{run, ops:.bench.ops_per_s, p99:.bench.p99_ms, cpu:[.bench.servers[].cpu_pct], gen:.bench.gen_cpu_pct,
    d:[range(0;3) as $i | {c:(.b[$i].c-.a[$i].c), r:(.b[$i].r-.a[$i].r), g:(.b[$i].g-.a[$i].g), pr:(.b[$i].pr-.a[$i].pr), pb:(.b[$i].pb-.a[$i].pb), f:(.b[$i].f-.a[$i].f)}]}'
  sleep 1
done
