# Sourced by kv_cluster_ab.sh and kv_rounds.sh: 3 kunai agents tagged kv on loopback, as the shared
# kunai-kv-cluster.sh starts them (ports B+1..3, token "tok"), and the shared kv-load.mjs.
# kv_cluster_start CHECKOUT BASE DIR: starts them under DIR, waits until 3 are alive, and sets
#   E (their URLs, comma-separated) and P (their pid files); kv_cluster_cleanup DIR kills them.
# LOAD: kv-load.mjs (KV_LOAD, else ../shared/bench beside the checkout, else /work/shared/bench).
LOAD=${KV_LOAD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/bench/kv-load.mjs}
[ -f "$LOAD" ] || LOAD=/work/shared/bench/kv-load.mjs

kv_cluster_cleanup(){ for f in "$1"/k*/pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done; rm -rf "$1"; }

kv_cluster_start(){
  local K=$1 B=$2 w=$3 i d
  for i in 1 2 3; do
    d=$w/k$i; mkdir -p "$d/etc" "$d/data" "$d/log"
    cat >"$d/etc/local.json" <<JSON
{ "name": "k$i", "port": $((B+i)), "bind": "127.0.0.1", "addr": "127.0.0.1", "tags": ["kv"],
  "seeds": ["127.0.0.1:$((B+1))"], "bootstrap": true, "data": "$d/data", "log": "$d/log",
  "lock": "$d/kunai.pid", "socket": "$d/kunai.sock", "log_level": "WARNING", "http": {"token": "tok"} }
JSON
    (cd "$K" && exec deno run -A main.ts agent start --cfg-dir "$d/etc") >>"$d/out.log" 2>&1 &
    echo $! >"$d/pid"
    disown # killed at the end on purpose: no "Killed" line
  done
  for i in 1 2 3; do for _ in $(seq 1 150); do curl -s --max-time 2 "http://127.0.0.1:$((B+i))/" >/dev/null && break; sleep 0.2; done; done
  for _ in $(seq 1 100); do
    [ "$(curl -s "http://127.0.0.1:$((B+1))/agent/members" | grep -o '"state":"alive"' | wc -l)" -ge 3 ] && break; sleep 0.3
  done
  E=http://127.0.0.1:$((B+1)),http://127.0.0.1:$((B+2)),http://127.0.0.1:$((B+3))
  P=$w/k1/pid,$w/k2/pid,$w/k3/pid
}
