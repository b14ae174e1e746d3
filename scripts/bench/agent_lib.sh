# Sourced by the bench scripts that start kunai agents by hand (idle_ab.sh, join_cpu.sh).
# start_agent CHECKOUT DIR NAME PORT [LOG_LEVEL]: writes DIR/etc/local.json (the configuration
# kunai-cluster.sh writes: loopback, tag linux, bootstrap, everything under DIR) and starts the agent of
# CHECKOUT in the background (its output in DIR/out.log); appends its pid to the caller's `pids` array.
# AGENT_ENV: VAR=value words set in the agent's environment (e.g. KUNAI_V8_FLAGS=...); AGENT_CFG: more
# members of local.json (e.g. '"collectors": {"disabled": ["kernelstats"]}').
start_agent(){
  local k=$1 d=$2 name=$3 port=$4 level=${5:-ERROR}
  mkdir -p "$d/etc" "$d/data" "$d/log"
  cat >"$d/etc/local.json" <<JSON
{ "name": "$name", "port": $port, "bind": "127.0.0.1", "addr": "127.0.0.1", "tags": ["linux"],
  "seeds": [], "bootstrap": true, "data": "$d/data", "log": "$d/log", "lock": "$d/kunai.pid",
  "socket": "$d/kunai.sock", "log_level": "$level"${AGENT_CFG:+, $AGENT_CFG} }
JSON
  (cd "$k" && exec env ${AGENT_ENV:-} deno run -A main.ts agent start --cfg-dir "$d/etc") >"$d/out.log" 2>&1 &
  pids+=($!)
}
