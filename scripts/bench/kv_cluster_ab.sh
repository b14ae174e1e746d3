#!/usr/bin/env bash
# A/B of the KV path on a real 3-agent cluster: the anchor's setup (3 agents tagged kv on loopback, token,
# kv-load.mjs from ../shared/bench), shorter: preload, then put and get at each level; one line per phase
# with ops/s, p50/p99, the servers' CPU summed and CPU ms per acknowledged op, the generator's CPU and RSS.
# usage: flock /tmp/kunai-anchor-bench.lock bash scripts/bench/kv_cluster_ab.sh CHECKOUT LABEL
# env: KBASE (21400: ports KBASE+1..3), LEVELS ("16"), OPS ("put get"), DURATION (8), KUNAI_V8_FLAGS
set -u
K=$(cd "${1:?checkout}" && pwd); L=${2:-run}; B=${KBASE:-21400}
. "$(dirname "$0")/kv_cluster_lib.sh"
w=$(mktemp -d -t kunai-kv-ab.XXXXXX)
trap 'kv_cluster_cleanup "$w"' EXIT
kv_cluster_start "$K" "$B" "$w"
KV_TOKEN=tok node "$LOAD" preload --endpoints "$E" --api kunai >/dev/null
for op in ${OPS:-put get}; do for c in ${LEVELS:-16}; do
  KV_TOKEN=tok node "$LOAD" bench --endpoints "$E" --api kunai --op "$op" --concurrency "$c" \
    --duration "${DURATION:-8}" --pid-files "$P" | L=$L OP=$op C=$c node -e '
const v = JSON.parse(require("fs").readFileSync(0, "utf8")); const e = process.env;
const cpu = v.servers.reduce((a, s) => a + s.cpu_pct, 0);
console.log(JSON.stringify({ label: e.L, op: e.OP, clients: +e.C, ops_per_s: v.ops_per_s, p50_ms: v.p50_ms,
  p99_ms: v.p99_ms, servers_cpu_pct: Math.round(cpu), cpu_ms_per_op: +(cpu * 10 / v.ops_per_s).toFixed(3),
  gen_cpu_pct: v.gen_cpu_pct, rss_mb: v.servers.map((s) => s.rss_kb >> 10), misses: v.misses, errors: v.errors }));'
done; done
echo "{\"label\":\"$L\",\"load_at_end\":\"$(cat /proc/loadavg)\"}"
