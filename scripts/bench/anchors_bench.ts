/**
 * Side by side with the tools kunai competes with, using the shared anchor scripts (Serf, etcd,
 * collectd): each scenario runs the competitor and kunai interleaved, ROUNDS times (default 3),
 * every run under the shared bench lock, and reports every run, the medians and kunai/anchor ratios.
 *
 *   KUNAI_ANCHORS=/path/to/shared/bench  the anchor scripts (default: ../shared/bench next to the repo;
 *                                        the bench prints {"skipped": ...} when they are not there)
 *   ROUNDS=3  ONLY=gossip20,gossip5,kv,idle  (any subset)
 *   FLOOR=1  the join rows also run kunai-cluster.sh on the ideal agent (scripts/bench/ideal_agent:
 *            converged at once, no work), between Serf and kunai: the floor the script itself sets
 *            on this box (FLOOR=0: not run); and on the same agent with KUNAI_IDEAL=instant (gossip
 *            that costs nothing and takes no time: a node knows the nodes whose join request has
 *            arrived): the floor for any agent that learns of a join only once it happens
 *   KV: LEVELS="16 64" OPS="put get" DURATION=10 pass through to run-etcd-anchor.sh
 *   IDLE_S=120  the idle CPU window (run-collectd-anchor.sh, collectd vs one default kunai agent)
 *   IDLE_WARMUP_S=75  how long the kunai agent runs before its window (start-up, its last step at +60 s
 *                     included: lib/process_metrics/settle.ts; first rollup, JIT)
 *
 * Prints one JSON line (the summary) on stdout; per-run lines go to stderr.
 */
import { join } from "node:path";
import { freePort, tempDir } from "../../tests/helpers.ts";
import { pathExists } from "../../lib/fs/mod.ts";

const root = join(new URL(".", import.meta.url).pathname, "..", "..");
const anchors = Deno.env.get("KUNAI_ANCHORS") ?? join(root, "..", "shared", "bench");
const rounds = Number(Deno.env.get("ROUNDS") ?? 3);
const only = (Deno.env.get("ONLY") ?? "gossip20,gossip5,kv,idle").split(",").map((s) => s.trim());
const LOCK = "/tmp/kunai-anchor-bench.lock";
const floor = Deno.env.get("FLOOR") !== "0";
const idealAgent = join(root, "scripts", "bench", "ideal_agent");

type Json = Record<string, unknown>;

/**
 * Runs one anchor script under the bench lock; its last stdout line is the JSON summary. At most
 * `limitS` seconds (then an error line): a Serf cluster whose `serf join` failed waits for its
 * 20th member forever (2026-12-02: one agent alone, another with 9 members, 9 minutes on).
 */
async function anchor(
  script: string,
  args: string[],
  limitS: number,
  env: Record<string, string> = {},
): Promise<Json> {
  const out = await new Deno.Command("flock", {
    // -o: a leaked child never keeps the lock; timeout: SIGTERM (the scripts' traps stop what they started)
    args: ["-o", LOCK, "timeout", "-k", "10", String(limitS), "bash", join(anchors, script), ...args],
    // Debian's python3 first: the scripts poll with python3, and a pyenv shim on PATH costs 0.15 s a
    // call (N-1 calls per sweep), which would be timed as kunai's convergence. Same PATH for both sides.
    env: { PATH: `/usr/bin:/bin:${Deno.env.get("PATH") ?? ""}`, ...env },
    stdout: "piped",
    stderr: "null",
  }).output();
  if (out.code === 124 || out.code === 137) return { error: `${script}: timed out after ${limitS} s` };
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last);
  } catch {
    return { error: `${script}: no JSON summary (exit ${out.code})`, output: last.slice(-300) };
  }
}

/** Longest a cluster script may take (start-up, one join storm, one detection). */
const GOSSIP_LIMIT_S = 300;

const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

/** Wall time of one run of a command, ms (null when it cannot start). */
async function startMs(cmd: string, args: string[]): Promise<number | null> {
  const t = performance.now();
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
  } catch {
    return null;
  }
  return performance.now() - t;
}

/**
 * What kind of box a sitting ran on, measured before its first run: the CPU model, and three costs
 * that move the figures between boxes: a fixed JS loop (one core's speed), the start of Debian's
 * python3 (the cluster scripts poll kunai with `curl | python3`) and of `serf` (they poll Serf with
 * `serf members`). On 2026-12-02 two boxes of the same kind differed by ~2x in Serf's join
 * convergence (0.78 s against 1.80 s): sittings are compared within a box, not across.
 */
async function boxProbe(): Promise<Json> {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1]?.trim() ?? null;
  let x = 0;
  const t = performance.now();
  for (let i = 0; i < 50_000_000; i++) x = (x + i * i) % 1_000_003;
  const loopMs = performance.now() - t;
  const med = async (cmd: string, args: string[]) => {
    const xs: number[] = [];
    for (let i = 0; i < 9; i++) {
      const ms = await startMs(cmd, args);
      if (ms === null) return null;
      xs.push(ms);
    }
    const m = median(xs);
    return m === null ? null : Math.round(m * 10) / 10;
  };
  return {
    cpu,
    kernel: Deno.osRelease(),
    js_loop_ms: Math.round(loopMs),
    js_loop_result: x, // read, so the loop cannot be optimised away
    python3_start_ms: await med("/usr/bin/python3", ["-c", "import json, sys"]),
    serf_start_ms: await med("serf", ["version"]),
    load: loadavg(),
  };
}

function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const num = (v: unknown) => (typeof v === "number" ? v : NaN);
const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100;
const dig = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Json)[k] : undefined), o);

/** A default agent (what kunai-cluster.sh writes: default pack, 10 s collectors) for the idle window. */
async function startIdleAgent(): Promise<{ pid: number; stop(): Promise<void> }> {
  const { dir, cleanup } = tempDir("kunai-idle-");
  for (const d of ["etc", "data", "log"]) await Deno.mkdir(join(dir, d), { recursive: true });
  const port = freePort();
  await Deno.writeTextFile(
    join(dir, "etc", "local.json"),
    JSON.stringify({
      name: "idle",
      port,
      bind: "127.0.0.1",
      addr: "127.0.0.1",
      tags: ["linux"],
      seeds: [],
      bootstrap: true,
      data: join(dir, "data"),
      log: join(dir, "log"),
      lock: join(dir, "kunai.pid"),
      socket: join(dir, "kunai.sock"),
      log_level: "ERROR",
    }),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "agent", "start", "--cfg-dir", join(dir, "etc")],
    cwd: root,
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 150; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  // start-up done, first collector rounds and rollup pass taken: the window measures the resident cost.
  // Not 60 s: the agent's last start-up step (a collection, a malloc trim and a release of file pages,
  // ~30-40 ms of CPU on the sixth box) runs 60 s after it answers, and a window opened 60 s after
  // this loop saw it answer began within tens of milliseconds of that step, so took it or not by chance
  await new Promise((r) => setTimeout(r, Number(Deno.env.get("IDLE_WARMUP_S") ?? 75) * 1000));
  return {
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      cleanup();
    },
  };
}

if (!pathExists(join(anchors, "serf-cluster.sh"))) {
  console.log(JSON.stringify({ skipped: `no anchor scripts in ${anchors} (set KUNAI_ANCHORS)` }));
  Deno.exit(0);
}

const box = await boxProbe();
console.error(JSON.stringify({ box }));
// serf-cluster.sh does not install Serf, and without it each of its runs waits out GOSSIP_LIMIT_S
// (a fresh box on 2026-12-07: five minutes lost before the first run was stopped by hand)
const serfMissing = box.serf_start_ms === null;
if (serfMissing && only.some((o) => o.startsWith("gossip"))) {
  console.error(
    JSON.stringify({ error: "serf is not installed (apt-get install serf): the join rows are skipped" }),
  );
}
{
  // the agents run from the JavaScript copy of the modules (lib/jscopy.ts): made here, once, rather
  // than by the twenty agents of the first round at once
  const { ensureJsCopy } = await import("../../lib/jscopy.ts");
  console.error(JSON.stringify({ jsCopy: await ensureJsCopy(root) }));
}
const runs: Json[] = [];
const log = (r: Json) => {
  runs.push(r);
  console.error(JSON.stringify(r));
};

/** One side of a join round: its name, the cluster script, its arguments, extra environment. */
type JoinSide = [side: string, script: string, args: string[], env?: Record<string, string>];

for (let round = 1; round <= rounds; round++) {
  for (const n of [20, 5]) {
    if (!only.includes(`gossip${n}`) || serfMissing) continue;
    // Serf, then the two floors (the ideal agent, the same with instant gossip), then kunai
    const sides: JoinSide[] = [
      ["serf", "serf-cluster.sh", [String(n)]],
      ...(floor
        ? [
          ["ideal", "kunai-cluster.sh", [idealAgent, String(n)]],
          ["instant", "kunai-cluster.sh", [idealAgent, String(n)], { KUNAI_IDEAL: "instant" }],
        ] as JoinSide[]
        : []),
      ["kunai", "kunai-cluster.sh", [root, String(n)]],
    ];
    for (const [side, script, args, env] of sides) {
      const load = loadavg(); // before the run, as for every other scenario
      log({ round, what: `gossip${n}`, side, load, r: await anchor(script, args, GOSSIP_LIMIT_S, env) });
    }
  }
  if (only.includes("kv")) {
    const env = {
      LEVELS: Deno.env.get("LEVELS") ?? "16 64",
      OPS: Deno.env.get("OPS") ?? "put get",
      DURATION: Deno.env.get("DURATION") ?? "10",
    };
    // every level and op, set-up and preload, and the fault run, with room to spare
    const limit =
      env.LEVELS.split(/\s+/).filter(Boolean).length * env.OPS.split(/\s+/).filter(Boolean).length *
        (Number(env.DURATION) + 30) + 600;
    log({
      round,
      what: "kv",
      side: "etcd",
      load: loadavg(),
      r: await anchor("run-etcd-anchor.sh", [], limit, env),
    });
    log({
      round,
      what: "kv",
      side: "kunai",
      load: loadavg(),
      r: await anchor("kunai-kv-cluster.sh", [root], limit, env),
    });
  }
  if (only.includes("idle")) {
    const env = { DURATION: Deno.env.get("IDLE_S") ?? "120", RUN_NE: "0" };
    log({
      round,
      what: "idle",
      side: "collectd",
      load: loadavg(),
      r: await anchor("run-collectd-anchor.sh", [], Number(env.DURATION) + 300, env),
    });
    const agent = await startIdleAgent();
    try {
      const r = await anchor("run-collectd-anchor.sh", [], Number(env.DURATION) + 300, {
        ...env,
        TARGET_PID: String(agent.pid),
        NAME: "kunai",
      });
      log({ round, what: "idle", side: "kunai", load: loadavg(), r });
    } finally {
      await agent.stop();
    }
  }
}

/** Medians of one figure per side of a scenario, and kunai's ratio to the anchor. */
/** One figure of every run of one side of a scenario. */
function sideRuns(what: string, side: string, pick: (r: Json) => unknown): number[] {
  return runs.filter((x) => x.what === what && x.side === side).map((x) => num(pick(x.r as Json)));
}

function figure(what: string, anchorSide: string, pick: (r: Json) => unknown) {
  const a = sideRuns(what, anchorSide, pick), k = sideRuns(what, "kunai", pick);
  const ma = median(a), mk = median(k);
  return { [anchorSide]: a, kunai: k, [`${anchorSide}_median`]: ma, kunai_median: mk, ratio: ratio(mk, ma) };
}

const summary: Json = { date: new Date().toISOString(), rounds, cores: navigator.hardwareConcurrency, box };
for (const n of [20, 5]) {
  if (!only.includes(`gossip${n}`)) continue;
  const pickConverge = (r: Json) => r.converge_s;
  const converge = figure(`gossip${n}`, "serf", pickConverge);
  if (floor) {
    // what the script reads for agents that converge at once and cost nothing (its own share), and
    // for agents that learn of each join the moment it arrives, at no cost
    for (const side of ["ideal", "instant"]) {
      const seen = sideRuns(`gossip${n}`, side, pickConverge);
      const m = median(seen);
      Object.assign(converge, {
        [side]: seen,
        [`${side}_median`]: m,
        [`${side}_ratio`]: ratio(m, converge.serf_median as number | null),
        [`kunai_over_${side}_s`]: m === null || converge.kunai_median === null
          ? null
          : Math.round(((converge.kunai_median as number) - m) * 100) / 100,
      });
    }
  }
  summary[`gossip${n}`] = {
    converge_s: converge,
    detect_s: figure(`gossip${n}`, "serf", (r) => r.detect_s),
    rss_kb: figure(`gossip${n}`, "serf", (r) => r.rss_kb_avg),
  };
}
if (only.includes("kv")) {
  const kv: Json = {};
  for (const c of ["c16", "c64"]) {
    kv[`${c}_writes_per_s`] = figure("kv", "etcd", (r) => dig(r, "levels", c, "put", "ops_per_s"));
    kv[`${c}_write_p99_ms`] = figure("kv", "etcd", (r) => dig(r, "levels", c, "put", "p99_ms"));
    kv[`${c}_reads_per_s`] = figure("kv", "etcd", (r) => dig(r, "levels", c, "get", "ops_per_s"));
  }
  kv.acked_lost = figure("kv", "etcd", (r) => dig(r, "fault", "acked_lost_max_over_endpoints"));
  kv.write_outage_s = figure("kv", "etcd", (r) => dig(r, "fault", "write_outage_s"));
  kv.rss_kb_after_bench_max = figure("kv", "etcd", (r) => {
    const v = Object.values((dig(r, "rss_kb_after_bench") ?? {}) as Json).map(num);
    return v.length ? Math.max(...v) : NaN;
  });
  summary.kv = kv;
}
if (only.includes("idle")) {
  const idle = (field: string) => (r: Json) => {
    const results = (r.results ?? {}) as Json;
    return dig(results, Object.keys(results)[0] ?? "", field);
  };
  summary.idle = {
    cpu_pct: figure("idle", "collectd", idle("cpu_pct")),
    rss_kb: figure("idle", "collectd", idle("rss_kb")),
  };
}
console.log(JSON.stringify(summary));
