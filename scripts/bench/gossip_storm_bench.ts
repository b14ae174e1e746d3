/**
 * The scenario of `shared/bench/kunai-cluster.sh` / `serf-cluster.sh` (N agents on 127.0.0.1, all
 * started, then all but the first join it at once; then kill -9 of the last), measured from
 * inside one process: every observer polls its own view (50 ms apart) concurrently, so the
 * figures are the gossip's, not the time a shell loop takes to start curl and python per node.
 * Runs Serf the same way when `serf` is installed. Prints one JSON line. KUNAI_BENCH_AGENTS = N.
 */
import { AgentClient } from "../../lib/client/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, startAgent } from "../../tests/helpers.ts";

const N = Number(Deno.env.get("KUNAI_BENCH_AGENTS") ?? 20);
if (!Deno.env.get("DENO_DIR") && Deno.env.get("HOME")) {
  Deno.env.set("DENO_DIR", `${Deno.env.get("HOME")}/.cache/deno`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each observer polls on its own; resolves with the latest first-true time (ms from t0), or -1. */
async function allObserve<T>(observers: T[], check: (o: T) => Promise<boolean>, t0: number, maxMs: number) {
  const times = await Promise.all(observers.map(async (o) => {
    while (performance.now() - t0 < maxMs) {
      if (await check(o).catch(() => false)) return performance.now() - t0;
      await sleep(50);
    }
    return -1;
  }));
  return times.some((t) => t < 0) ? -1 : Math.round(Math.max(...times));
}

async function benchKunai() {
  const ports = Array.from({ length: N }, () => freePort());
  const agents: AgentProc[] = [];
  const clients: AgentClient[] = [];
  try {
    for (let i = 0; i < N; i += 5) {
      const batch = Array.from({ length: Math.min(5, N - i) }, (_, j) =>
        startAgent({
          name: `n${i + j}`,
          port: ports[i + j],
          waitMs: 90_000,
          params: { seeds: [], bootstrap: true, log_level: "ERROR", tags: ["linux"] },
        }));
      agents.push(...await Promise.all(batch));
    }
    for (const a of agents) clients.push(new AgentClient({ socket: a.socket, timeoutMs: 5000 }));
    await sleep(2000);
    const alive = async (c: AgentClient, state: string) =>
      Object.values(await c.json<Record<string, MemberRecord>>("GET", "/agent/members"))
        .filter((r) => r.state === state).length;
    const t0 = performance.now();
    // a join that fails or outlasts the client's 5 s is counted, not fatal (50 agents on 2 cores)
    let joinErrors = 0;
    const joins = clients.slice(1).map((c) =>
      c.json("POST", `/agent/join/127.0.0.1:${ports[0]}`).catch(() => void joinErrors++)
    );
    const converge = await allObserve(
      clients.slice(1),
      async (c) => await alive(c, "alive") >= N,
      t0,
      60_000,
    );
    await Promise.allSettled(joins);
    await agents[N - 1].kill9();
    const t2 = performance.now();
    const detect = await allObserve(
      clients.slice(1, N - 1),
      async (c) => await alive(c, "dead") >= 1,
      t2,
      90_000,
    );
    // did the event loop slip? how late probe rounds and suspicion timers ran, worst agent
    type Lag = { max_ms: number; mean_ms: number; count: number };
    const timing = await Promise.all(
      clients.slice(0, N - 1).map((c) =>
        c.json<{ gossip: { timing: { probe_lag: Lag; probe_stretch: Lag; suspicion_lag: Lag } } }>(
          "GET",
          "/agent/info",
        )
          .then((i) => i.gossip.timing)
          // a loaded box can keep /agent/info past the client's 5 s: report the agents that answered
          .catch(() => null)
      ),
    ).then((all) => all.filter((t) => t !== null));
    const worst = (k: "probe_lag" | "probe_stretch" | "suspicion_lag", f: "max_ms" | "mean_ms") =>
      timing.length ? Math.max(...timing.map((t) => t[k][f])) : NaN;
    return {
      converge_s: converge / 1000,
      detect_s: detect / 1000,
      join_errors: joinErrors,
      probe_lag_ms: { worst_max: worst("probe_lag", "max_ms"), worst_mean: worst("probe_lag", "mean_ms") },
      probe_stretch_ms: {
        worst_max: worst("probe_stretch", "max_ms"),
        worst_mean: worst("probe_stretch", "mean_ms"),
      },
      suspicion_lag_ms: {
        worst_max: worst("suspicion_lag", "max_ms"),
        worst_mean: worst("suspicion_lag", "mean_ms"),
      },
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(agents.map((a) => a.stop(3000).catch(() => {})));
    for (const a of agents) Deno.removeSync(a.dir, { recursive: true });
  }
}

function serfAvailable(): boolean {
  try {
    return new Deno.Command("serf", { args: ["version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

async function benchSerf() {
  const ports = Array.from({ length: N }, () => freePort());
  const rpcs = Array.from({ length: N }, () => `127.0.0.1:${freePort()}`);
  const children: Deno.ChildProcess[] = [];
  const serf = (args: string[]) =>
    new Deno.Command("serf", { args, stdout: "piped", stderr: "null" }).output();
  try {
    for (let i = 0; i < N; i++) {
      children.push(
        new Deno.Command("serf", {
          args: [
            "agent",
            `-node=n${i}`,
            `-bind=127.0.0.1:${ports[i]}`,
            `-rpc-addr=${rpcs[i]}`,
            "-log-level=err",
          ],
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    await sleep(1000);
    const count = async (i: number, status: string) => {
      const out = await serf(["members", `-rpc-addr=${rpcs[i]}`, "-format=json"]);
      if (!out.success) throw new Error(`serf members failed on n${i}`);
      const m = JSON.parse(new TextDecoder().decode(out.stdout)).members as Array<{ status: string }>;
      return m.filter((x) => x.status === status).length;
    };
    const idx = Array.from({ length: N }, (_, i) => i);
    const t0 = performance.now();
    const joins = idx.slice(1).map((i) => serf(["join", `-rpc-addr=${rpcs[i]}`, `127.0.0.1:${ports[0]}`]));
    const converge = await allObserve(idx.slice(1), async (i) => await count(i, "alive") >= N, t0, 60_000);
    await Promise.allSettled(joins);
    children[N - 1].kill("SIGKILL");
    const t2 = performance.now();
    const detect = await allObserve(
      idx.slice(1, N - 1),
      async (i) => await count(i, "failed") >= 1,
      t2,
      90_000,
    );
    return { converge_s: converge / 1000, detect_s: detect / 1000 };
  } finally {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch { /* already gone */ }
      await c.status;
    }
  }
}

/** KUNAI_BENCH_ONLY=kunai|serf runs one side. */
const only = Deno.env.get("KUNAI_BENCH_ONLY");
const out: Record<string, unknown> = { bench: "gossip_storm", agents: N };
if (only !== "serf") out.kunai = await benchKunai();
if (only !== "kunai" && serfAvailable()) out.serf = await benchSerf();
console.log(JSON.stringify(out));
