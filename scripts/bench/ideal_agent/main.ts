/**
 * The ideal agent of the join rows: what `kunai-cluster.sh` (../shared/bench) measures when the
 * agents cost nothing and converge at once. Started by the script exactly as kunai is (`cd CHECKOUT
 * && deno run -A main.ts agent start --cfg-dir DIR`, this directory as the checkout), it listens on
 * the socket of its `local.json`, answers `/` with OK, accepts the join at once, and answers
 * `/agent/members` with every node of the run alive (records shaped and sized like a default
 * agent's), the last node dead once its process is gone (the script's kill -9). So the script's
 * figure for it is the floor set by the script itself on this box: its `curl` and `python3` polls,
 * the join `curl`s, the sweeps. `scripts/bench/anchors_bench.ts` runs it beside Serf and kunai.
 *
 * With `KUNAI_IDEAL=instant` it is instead an agent whose gossip costs nothing and takes no time: a
 * node knows another once that node's join request has reached it (a marker file in the run's
 * directory), so the seed and every joined node see exactly the nodes whose join has arrived, and
 * a node not yet joined sees itself alone. That is the floor for any agent that learns of a join
 * only once it happens.
 *
 * Not part of kunai: nothing imports it, and it serves only the local socket the script chose.
 */

import { AGENT_SERVICES } from "../../../tests/sim/agent_services.ts";

const argv = Deno.args;
const at = argv.indexOf("--cfg-dir");
if (argv[0] !== "agent" || argv[1] !== "start" || at < 0 || !argv[at + 1]) {
  console.error("usage: deno run -A main.ts agent start --cfg-dir DIR (an ideal agent for kunai-cluster.sh)");
  Deno.exit(2);
}
const cfgDir = argv[at + 1];
const cfg = JSON.parse(Deno.readTextFileSync(`${cfgDir}/local.json`)) as { socket: string };
/** The run's directory: the script gives node i the socket `<run>/n<i>/kunai.sock`. */
const run = cfg.socket.replace(/\/n\d+\/kunai\.sock$/, "");
if (run === cfg.socket) {
  console.error(`ideal agent: ${cfg.socket} is not <run>/n<i>/kunai.sock`);
  Deno.exit(2);
}
const pidFile = (i: number) => `${run}/n${i}/ideal.pid`;
const self = Number(/\/n(\d+)\/kunai\.sock$/.exec(cfg.socket)![1]);
const instant = Deno.env.get("KUNAI_IDEAL") === "instant";
const joinedFile = (i: number) => `${run}/n${i}/ideal.joined`;
const hasJoined = (i: number) => {
  try {
    Deno.statSync(joinedFile(i));
    return true;
  } catch {
    return false;
  }
};
Deno.writeTextFileSync(cfg.socket.replace(/kunai\.sock$/, "ideal.pid"), String(Deno.pid));

/** A default agent's record as `/agent/members` gives it (the redis detector's service in it). */
function record(i: number, state: string): Record<string, unknown> {
  const uuid = (i + 1).toString(16).padStart(40, "0");
  return {
    uuid,
    name: `n${i}`,
    addr: "127.0.0.1",
    port: 17800 + i,
    incarnation: 4,
    state,
    tags: ["linux", "redis", "debian"],
    services: AGENT_SERVICES,
    zone: "",
    proto: 3,
  };
}

/** Nodes of the run: counted once asked (the script starts them one by one, then joins). */
let nodes = 0;
let allAlive = "";
function count(): void {
  if (nodes) return;
  nodes = [...Deno.readDirSync(run)].filter((e) => e.isDirectory && /^n\d+$/.test(e.name)).length;
  allAlive = JSON.stringify(Object.fromEntries(range(nodes).map((i) => [i, record(i, "alive")])));
}
function table(victimDead: boolean): string {
  if (instant) {
    // n0 is the seed: it and every joined node know the seed and every node whose join has arrived
    const knows = self === 0 || hasJoined(self);
    const known = range(nodes).filter((i) => i === self || (knows && (i === 0 || hasJoined(i))));
    return JSON.stringify(
      Object.fromEntries(known.map((i) => [i, record(i, victimDead && i === nodes - 1 ? "dead" : "alive")])),
    );
  }
  if (!victimDead) return allAlive;
  return JSON.stringify(
    Object.fromEntries(range(nodes).map((i) => [i, record(i, i === nodes - 1 ? "dead" : "alive")])),
  );
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The script kills the last node; once its process is gone every other node reports it dead. */
function victimGone(): boolean {
  let pid: string;
  try {
    pid = Deno.readTextFileSync(pidFile(nodes - 1)).trim();
  } catch {
    return false;
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}

Deno.serve({ path: cfg.socket, onListen() {} }, (req) => {
  const path = new URL(req.url).pathname;
  if (path === "/agent/members") {
    count();
    const body = table(victimGone());
    return new Response(body, { headers: { "content-type": "application/json" } });
  }
  if (path.startsWith("/agent/join/")) {
    Deno.writeTextFileSync(joinedFile(self), "");
  }
  return new Response("OK");
});
