/**
 * Test helpers: a ready-made Ctx, free ports, temp dirs, and real agent processes.
 */
import { join } from "node:path";
import { EventBus } from "../lib/bus.ts";
import { type Clock, VirtualClock } from "../lib/clock/mod.ts";
import { type AgentConfig, resolveConfig } from "../lib/config/mod.ts";
import { LogSink } from "../lib/log/mod.ts";
import { Store } from "../lib/store/mod.ts";
import { Sandbox } from "../lib/sandbox/mod.ts";
import { Counters } from "../lib/counters.ts";
import { LocalNode } from "../lib/identity/mod.ts";
import type { Ctx } from "../lib/subsystem.ts";
import { AgentClient } from "../lib/client/mod.ts";
import type { MemberRecord } from "../lib/types.ts";
import { hostPort } from "../lib/host_port.ts";

export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * `deno run` arguments that run a module of this repository the way the agent runs (the
 * `--unstable-*` features come from deno.json, their one source).
 */
export function denoRun(module: string, ...args: string[]): string[] {
  return ["run", "-A", "--config", join(REPO, "deno.json"), join(REPO, module), ...args];
}

/**
 * Child processes get their own HOME (a temp dir); they share our Deno cache so they do not
 * download the npm packages again.
 */
export const SHARED_DENO_DIR: Record<string, string> = {
  DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`,
};

/** A fresh temp dir removed by the returned cleanup (or at the end of the scope: `using t = tempDir()`). */
export function tempDir(prefix = "kunai-test-"): { dir: string; cleanup: () => void } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix });
  const cleanup = () => Deno.removeSync(dir, { recursive: true });
  return { dir, cleanup, [Symbol.dispose]: cleanup };
}

/** The first port of the kernel's ephemeral range (what it hands out for port 0 and outgoing sockets). */
function ephemeralStart(): number {
  try {
    const lo = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)[0]);
    if (Number.isInteger(lo) && lo > 12_000) return lo;
  } catch { /* not Linux */ }
  return 32_768;
}

/** Ports this module handed out already (never twice from one test module). */
const handedOut = new Set<number>();

/**
 * A TCP+UDP port free on `hostname` right now, drawn at random BELOW the kernel's ephemeral range:
 * a port the kernel picked for `port: 0` is one it may pick again, between this check and the
 * agent's bind, for any outgoing socket of a test running beside (a UDP client, a connection):
 * the agent's bind then fails with "address already in use". Below the range only another test's
 * explicit choice can collide, and those are random too.
 */
export function freePort(hostname = "127.0.0.1"): number {
  const top = ephemeralStart();
  const bottom = 10_000;
  for (let i = 0; i < 200; i++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    // fetch() refuses the WHATWG "bad ports" (10080 is the only one above 10 000): a test that drew
    // it failed with "Requests to port 10080 are blocked"
    if (handedOut.has(port) || port === 10_080) continue;
    try {
      Deno.listen({ hostname, port }).close();
      Deno.listenDatagram({ hostname, port, transport: "udp" }).close();
    } catch {
      continue; // taken (TCP or UDP): draw another
    }
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found on ${hostname} in ${bottom}-${top - 1}`);
}

/**
 * The detection settings of every agent a test starts: `kunai agent detect` (or a route walk that
 * calls it) broadcasts on loopback only, never to 255.255.255.255, and waits briefly.
 */
export const TEST_DETECT = { detect_addr: "127.255.255.255", detect_timeout: "200ms" };

/** `params` with TEST_DETECT under their `gossip` (theirs win). */
export function withTestDetect(params: Record<string, unknown> = {}): Record<string, unknown> {
  const gossip = params.gossip && typeof params.gossip === "object" ? params.gossip : {};
  return { ...params, gossip: { ...TEST_DETECT, ...gossip } };
}

export interface TestCtxOptions {
  /** Config files to write into the cfg dir: relative path -> object. */
  files?: Record<string, unknown>;
  /** Agent parameters (merged into local.json). */
  params?: Record<string, unknown>;
  clock?: Clock;
  name?: string;
  uuid?: string;
  tags?: string[];
}

/** Its sandbox, stores and temp dir go with `cleanup()` or at the end of the scope (`using ctx = makeTestCtx()`). */
export interface TestCtx extends Ctx, Disposable {
  dir: string;
  sink: LogSink;
  cleanup(): void;
}

/** Builds a Ctx on a temp dir with a real store, bus, sandbox and (by default) a virtual clock. */
export function makeTestCtx(opts: TestCtxOptions = {}): TestCtx {
  const { dir, cleanup } = tempDir();
  const cfgDir = join(dir, "etc");
  Deno.mkdirSync(cfgDir, { recursive: true });
  const local = {
    data: join(dir, "data"),
    name: opts.name ?? "test-node",
    tags: opts.tags ?? [],
    ...withTestDetect(opts.params),
  };
  Deno.writeTextFileSync(join(cfgDir, "local.json"), JSON.stringify(local));
  for (const [rel, value] of Object.entries(opts.files ?? {})) {
    const p = join(cfgDir, rel);
    Deno.mkdirSync(join(p, ".."), { recursive: true });
    Deno.writeTextFileSync(p, typeof value === "string" ? value : JSON.stringify(value));
  }
  const config: AgentConfig = resolveConfig({ cfgDir, env: { HOME: dir } });
  Deno.mkdirSync(config.params.data, { recursive: true });
  const bus = new EventBus();
  const sink = new LogSink({ level: "DEBUG", stderr: false, node: config.params.name });
  const store = new Store(config.params.data);
  const sandbox = new Sandbox(sink.logger("sandbox"));
  const node = new LocalNode({
    uuid: opts.uuid ?? "0".repeat(39) + "1",
    name: config.params.name,
    addr: "127.0.0.1",
    port: config.params.port,
    zone: "",
    incarnation: 0,
    configTags: config.params.tags,
    bus,
  });
  return {
    config,
    node,
    store,
    bus,
    clock: opts.clock ?? new VirtualClock(),
    log: sink.logger("test"),
    sandbox,
    counters: new Counters(),
    requestStop: () => {},
    dir,
    sink,
    cleanup() {
      sandbox.stopAll();
      store.closeAll();
      cleanup();
    },
    [Symbol.dispose]() {
      this.cleanup();
    },
  };
}

/** Runs the real CLI (`deno run main.ts ...`); returns code and output. */
export async function runKunai(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: denoRun("main.ts", ...args),
    clearEnv: true,
    env: { ...agentEnv(), NO_COLOR: "1", ...SHARED_DENO_DIR, ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/**
 * The environment an agent or CLI run started by a test inherits: ours without KUNAI_* variables (a token or
 * key in the shell that runs the tests would change what every agent expects). Tests never set
 * variables in their own process (test files running in parallel share it): they pass them to the
 * child (startAgent's `env`).
 */
function agentEnv(): Record<string, string> {
  const vars = Deno.env.toObject();
  for (const k of Object.keys(vars)) if (k.startsWith("KUNAI_")) delete vars[k];
  return vars;
}

export interface AgentProc {
  dir: string;
  cfgDir: string;
  configFile: string;
  socket: string;
  port: number;
  child: Deno.ChildProcess;
  /** Runs `kunai -c <this agent's config> ...args`. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** SIGTERM and wait (SIGKILL after `ms`). */
  stop(ms?: number): Promise<Deno.CommandStatus>;
  kill9(): Promise<void>;
  stderr(): string;
}

/**
 * Starts a real agent process on loopback in its own temp dir.
 * `params` go into local.json (port/bind/addr/name/data/socket/lock/log are set for you).
 */
export async function startAgent(opts: {
  name: string;
  addr?: string;
  port?: number;
  params?: Record<string, unknown>;
  files?: Record<string, unknown>;
  dir?: string;
  waitMs?: number;
  /** Environment variables of the agent process (over ours, without our KUNAI_* ones). */
  env?: Record<string, string>;
} = { name: "a" }): Promise<AgentProc> {
  const dir = opts.dir ?? agentDir(opts.name);
  const cfgDir = join(dir, "etc");
  Deno.mkdirSync(cfgDir, { recursive: true });
  const addr = opts.addr ?? "127.0.0.1";
  const port = opts.port ?? freePort(addr);
  const local = {
    name: opts.name,
    port,
    bind: addr,
    addr,
    data: join(dir, "data"),
    log: join(dir, "log"),
    lock: join(dir, "kunai.pid"),
    socket: join(dir, "kunai.sock"),
    ...withTestDetect(opts.params),
  };
  const configFile = join(cfgDir, "local.json");
  Deno.writeTextFileSync(configFile, JSON.stringify(local, null, 2));
  for (const [rel, value] of Object.entries(opts.files ?? {})) {
    const p = join(cfgDir, rel);
    Deno.mkdirSync(join(p, ".."), { recursive: true });
    Deno.writeTextFileSync(p, typeof value === "string" ? value : JSON.stringify(value));
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRun("main.ts", "agent", "start", "--cfg-dir", cfgDir),
    clearEnv: true,
    env: { ...agentEnv(), NO_COLOR: "1", ...SHARED_DENO_DIR, HOME: dir, ...opts.env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let errText = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  (async () => {
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        errText += value;
        if (errText.length > 1_000_000) errText = errText.slice(-500_000);
      }
    } catch { /* closed */ }
  })();
  const proc: AgentProc = {
    dir,
    cfgDir,
    configFile,
    socket: local.socket,
    port,
    child,
    cli: (args) => runKunai(["-c", configFile, ...args], { HOME: dir }),
    async stop(ms = 8000) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, ms);
      const st = await child.status;
      clearTimeout(t);
      return st;
    },
    async kill9() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    },
    stderr: () => errText,
  };
  // wait until the API answers on the unix socket
  const end = Date.now() + (opts.waitMs ?? 20_000);
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < end && !exited) {
    try {
      const c = Deno.createHttpClient({ proxy: { transport: "unix", path: local.socket } });
      const r = await fetch("http://kunai/agent/name", { client: c, signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      c.close();
      if (r.ok) return proc;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await proc.stop(1000);
  throw new Error(`agent ${opts.name} did not start: ${errText.slice(-2000)}`);
}

/**
 * The temp dirs `startAgent` made, removed when the test module ends (not at `stop()`: tests start an
 * agent again on the same dir, or read its files once it stopped). A full run left ~30 of them in /tmp.
 */
const agentDirs: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const d of agentDirs.splice(0)) {
    try {
      Deno.removeSync(d, { recursive: true });
    } catch { /* gone already */ }
  }
});

function agentDir(name: string): string {
  const dir = Deno.makeTempDirSync({ prefix: `kunai-${name}-` });
  agentDirs.push(dir);
  return dir;
}

const EXPIRED = Symbol("expired");

/** Gossip timings short enough for multi-agent tests to converge in a few hundred ms. */
export const FAST_GOSSIP = { probe_interval: "300ms", probe_timeout: "150ms", gossip_interval: "100ms" };

/**
 * Starts one agent per address, one after the other, into `agents` (so the caller's `finally` stops
 * those that did start): fast gossip, the first one bootstraps and the others join it. `each(i)`
 * gives the name and anything more (its params are merged over the cluster's). Returns the ports.
 */
export async function startCluster(
  agents: AgentProc[],
  addrs: string[],
  each: (i: number) => { name: string; params?: Record<string, unknown>; files?: Record<string, unknown> },
): Promise<number[]> {
  const ports = addrs.map((a) => freePort(a));
  for (let i = 0; i < addrs.length; i++) {
    const { name, params, files } = each(i);
    const cluster = {
      gossip: FAST_GOSSIP,
      seeds: i ? [hostPort(addrs[0], ports[0])] : [],
      bootstrap: i === 0,
    };
    agents.push(
      await startAgent({ name, addr: addrs[i], port: ports[i], params: { ...cluster, ...params }, files }),
    );
  }
  return ports;
}

/**
 * Polls `probe` every `everyMs` until it returns a truthy value, and resolves with that value. A probe
 * that throws counts as "not yet" (an agent still starting refuses connections); the last error is kept
 * and reported. Bounded: after `timeoutMs` (a probe still running is not awaited further) it rejects
 * with an Error naming `what`, the timeout and the last error (also its `cause`).
 */
export async function until<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let left = timeoutMs; left > 0; left = deadline - Date.now()) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<typeof EXPIRED>((r) => {
      timer = setTimeout(() => r(EXPIRED), left);
    });
    try {
      const v = await Promise.race([Promise.resolve().then(probe), expired]);
      if (v === EXPIRED) break;
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    } finally {
      clearTimeout(timer);
    }
    const pause = Math.min(everyMs, deadline - Date.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
  const last = lastError === undefined
    ? ""
    : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, { cause: lastError });
}

/** Processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      if (cmd.includes(marker)) out.push(Number(e.name));
    } catch { /* exited */ }
  }
  return out;
}

/**
 * The modules `entry` imports statically, itself included (`deno info --json`; dynamic imports are
 * not followed): what loading it loads.
 */
export async function staticImports(entry: URL): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`deno info ${entry.pathname}: ${new TextDecoder().decode(out.stderr)}`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: Array<
      { specifier: string; dependencies?: Array<{ code?: { specifier?: string }; isDynamic?: boolean }> }
    >;
  };
  const bySpec = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [entry.href];
  while (todo.length) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpec.get(s)?.dependencies ?? []) {
      if (!d.isDynamic && d.code?.specifier) todo.push(d.code.specifier);
    }
  }
  return [...seen];
}

/** How many members `a` sees alive (its `/agent/members`, over its unix socket). */
export async function aliveCount(a: AgentProc): Promise<number> {
  const c = new AgentClient({ socket: a.socket, timeoutMs: 5000 });
  try {
    const m = await c.json<Record<string, MemberRecord>>("GET", "/agent/members");
    return Object.values(m).filter((r) => r.state === "alive").length;
  } finally {
    c.close();
  }
}

/** A small seeded generator (xorshift32) for tests that need the same random data every run. */
export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
