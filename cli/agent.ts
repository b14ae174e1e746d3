/**
 * `kunai agent start|stop`. The agent itself is imported lazily so other commands start fast.
 */
import { basename, resolve } from "node:path";
import { type CommandGroup, UsageError } from "./types.ts";
import { ConfigError, resolveConfigAsync } from "../lib/config/mod.ts";
import { AgentClient, AgentUnreachable } from "../lib/client/mod.ts";
import type { Output } from "./output.ts";
import { projectRoot } from "../lib/root.ts";
import { JOIN_ERROR_HEADER } from "../lib/types.ts";
import { alignRows } from "./members.ts";
import { hostPort } from "../lib/host_port.ts";

/** What `POST /agent/detect` answers. */
interface DetectAnswer {
  sent_to: string;
  timeout_ms: number;
  agents: Array<
    { uuid: string; name: string; addr: string; port: number; zone: string; members: number; known: boolean }
  >;
}

const DAEMON_ENV = "KUNAI_DAEMON_CHILD";

function printConfigError(out: Output, err: ConfigError): void {
  out.error(`kunai: configuration error (nothing was started, nothing changed on disk):`);
  for (const line of err.message.split("\n")) out.error(`  ${line}`);
}

/** argv that re-runs this same program (compiled binary or `deno run main.ts`). */
function selfCommand(args: string[]): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  if (basename(exe).startsWith("deno")) {
    const main = new URL(Deno.mainModule);
    const cfg = new URL("deno.json", projectRoot());
    // deno.json lists the --unstable-* features (the one place they are written)
    const base = ["run", "-A"];
    if (cfg.protocol === "file:") base.push("--config", cfg.pathname);
    return { cmd: exe, args: [...base, main.protocol === "file:" ? main.pathname : main.href, ...args] };
  }
  return { cmd: exe, args };
}

async function waitForApi(
  socket: string,
  child: Deno.ChildProcess,
  ms: number,
): Promise<"up" | "exited" | "timeout"> {
  let exited = false;
  child.status.then(() => exited = true);
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (exited) return "exited";
    const c = new AgentClient({ socket, timeoutMs: 1000 });
    try {
      const r = await c.request("GET", "/agent/name");
      await r.body?.cancel();
      if (r.ok) return "up";
    } catch {
      /* not yet */
    } finally {
      c.close();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return "timeout";
}

export const agentCommands: CommandGroup = {
  group: "agent",
  description: "run or stop the local agent",
  commands: [
    {
      name: "start",
      description: "start the agent (foreground unless --daemon)",
      options: {
        daemon: { type: "boolean", description: "detach; exit 0 once the API answers" },
        "cfg-dir": {
          type: "string",
          description: "configuration directory (default /etc/kunai, $KUNAI_CFG_DIR)",
        },
        "data-dir": {
          type: "string",
          description: "data directory (default /var/lib/kunai or $XDG_DATA_HOME/kunai)",
        },
        port: { type: "string", description: "UDP gossip + TCP HTTP port" },
        name: { type: "string", description: "node name (default: hostname)" },
        bind: { type: "string", description: "listen address" },
        addr: { type: "string", description: "advertised address" },
        seed: { type: "string", multiple: true, description: "addr[:port] to join (repeatable)" },
        tag: { type: "string", multiple: true, description: "node tag (repeatable, adds to config tags)" },
        bootstrap: { type: "boolean", description: "start a new cluster without waiting for seeds" },
        "log-level": { type: "string", description: "DEBUG, INFO, WARNING or ERROR" },
        "no-default-pack": {
          type: "boolean",
          description:
            "do not install the default checks/detectors pack into <data>/global-configuration/packs",
        },
      },
      async run({ out, options, configFile }) {
        if (configFile !== undefined && options["cfg-dir"] === undefined) {
          // the global -c names the agent the CLI talks to: a start with it read /etc/kunai instead
          throw new UsageError(
            `-c ${configFile} names the agent to talk to, not the configuration to start with: give its directory with --cfg-dir`,
          );
        }
        const overrides: Record<string, unknown> = {};
        if (options.port !== undefined) {
          const n = Number(options.port);
          if (!/^\d+$/.test(String(options.port)) || n > 65535) {
            out.error(`kunai: --port expects a port number, got ${JSON.stringify(options.port)}`);
            return 2;
          }
          overrides.port = n;
        }
        for (const k of ["name", "bind", "addr"] as const) {
          if (options[k] !== undefined) overrides[k] = options[k];
        }
        if (options["log-level"] !== undefined) overrides.log_level = options["log-level"];
        if (options.bootstrap) overrides.bootstrap = true;
        if (options.seed) overrides.seeds = options.seed;
        let config;
        try {
          config = await resolveConfigAsync({
            cfgDir: options["cfg-dir"] as string | undefined,
            dataDir: options["data-dir"] as string | undefined,
            overrides,
          });
          if (options.tag) {
            config.params.tags = [...new Set([...config.params.tags, ...(options.tag as string[])])];
          }
        } catch (err) {
          if (err instanceof ConfigError) {
            printConfigError(out, err);
            return 2;
          }
          throw err;
        }
        const { lockHolder, LockHeld } = await import("../lib/lockfile.ts");
        const holder = lockHolder(config.params.lock);
        if (holder !== null && holder !== Deno.pid) {
          out.error(`kunai: ${new LockHeld(config.params.lock, holder || null).message}`);
          return 2;
        }
        if (options.daemon) {
          // the child runs from "/": relative directories must name the same place as for us
          const args = absoluteDirArgs(Deno.args.filter((a) => a !== "--daemon"));
          const self = selfCommand(args);
          const child = new Deno.Command(self.cmd, {
            args: self.args,
            stdin: "null",
            stdout: "null",
            stderr: "null",
            cwd: "/",
            env: { [DAEMON_ENV]: "1", ...(options["cfg-dir"] ? {} : {}) },
            detached: true,
          }).spawn();
          child.unref();
          const r = await waitForApi(config.params.socket, child, 20_000);
          if (r === "up") {
            out.line(
              `kunai agent started in the background (pid ${child.pid}), API on unix:${config.params.socket}`,
            );
            return 0;
          }
          const logFile = resolve(config.params.log, "daemon.log");
          const why = r === "exited" ? startFailure(logFile, child.pid) : null;
          out.error(
            r === "exited"
              ? `kunai: the agent exited during start${why ? `: ${why}` : ""}; see ${logFile}`
              : `kunai: the agent did not answer within 20 s; see ${
                resolve(config.params.log, "daemon.log")
              }`,
          );
          return 1;
        }
        if (!options["no-default-pack"]) {
          // first start on this data dir: ship the default checks/detectors pack, then re-read
          const { installDefaultPack } = await import("../lib/checks/mod.ts");
          const written = installDefaultPack(config.params.data);
          if (written.length) {
            const tags = config.params.tags;
            try {
              config = await resolveConfigAsync({
                cfgDir: options["cfg-dir"] as string | undefined,
                dataDir: options["data-dir"] as string | undefined,
                overrides,
              });
            } catch (err) {
              if (err instanceof ConfigError) {
                printConfigError(out, err);
                return 2;
              }
              throw err;
            }
            config.params.tags = tags;
          }
        }
        const { Agent } = await import("../lib/agent.ts");
        const reloadConfig = async (texts?: Record<string, string>) => {
          const next = await resolveConfigAsync({
            cfgDir: options["cfg-dir"] as string | undefined,
            dataDir: options["data-dir"] as string | undefined,
            overrides,
            texts,
          });
          if (options.tag) {
            next.params.tags = [...new Set([...next.params.tags, ...(options.tag as string[])])];
          }
          return next;
        };
        // before any secret is read: a process of our user (a plugin, when we are not root) must not read
        // the key and token from /proc/<pid>/environ or our memory
        const { makeNotDumpable } = await import("../lib/process/mod.ts");
        const notDumpable = makeNotDumpable();
        const agent = new Agent({ config, stderrLogs: Deno.env.get(DAEMON_ENV) !== "1", reloadConfig });
        if (Deno.env.get(DAEMON_ENV) !== "1") {
          out.line(`Starting kunai daemon (configuration: ${config.cfgDir}, data: ${config.params.data})`);
        }
        try {
          await agent.start();
        } catch (err) {
          if (err instanceof LockHeld) {
            out.error(`kunai: ${err.message}`);
            return 2;
          }
          out.error(`kunai: cannot start: ${(err as Error).message}`);
          return 1;
        }
        if (!notDumpable) {
          agent.log.warn("cannot make the process non-dumpable (prctl): its memory is readable by its user");
        }
        if (Deno.uid() !== 0) {
          agent.log.info(
            `running as uid ${Deno.uid()}: Nagios plugins and the commands of generators, handlers and exec run as ` +
              "this user too, and may read what it reads (its configuration, data dir, unix socket); an agent " +
              "started as root runs plugins as nagios_user",
          );
        }
        // start-up is over: its file pages, garbage and free malloc memory need not stay resident
        // (again 2 s later, file pages only, then 10 s and 60 s later, once every first run is done)
        const { settleAfterStart, startLagProbe } = await import("../lib/process_metrics/mod.ts");
        const stopProbe = startLagProbe(Deno.env.get("KUNAI_LAG_PROBE")); // benchmarks only
        void agent.finished.then(stopProbe, stopProbe);
        const stopSettle = settleAfterStart((r, afterMs) => {
          // the start-up steps once at info; the refresh every 10 minutes at debug
          (r.startup ? agent.log.info : agent.log.debug).call(
            agent.log,
            `released ${Math.round(r.releasedBytes / 1048576)} MB of file pages ` +
              `(${r.mappings} mappings${
                r.failed ? `, ${r.failed} refused: ${r.errors.join("; ")}` : ""
              }, +${afterMs} ms` +
              `${r.collected ? ", heap collected" : ""}${r.trimmed ? ", malloc trimmed" : ""})`,
          );
        });
        void agent.finished.then(stopSettle, stopSettle);
        const onSignal = (sig: string) => () => void agent.stop(`signal ${sig}`);
        const handlers: Array<[Deno.Signal, () => void]> = [["SIGTERM", onSignal("SIGTERM")], [
          "SIGINT",
          onSignal("SIGINT"),
        ]];
        handlers.push(["SIGHUP", () => {
          agent.reload().catch((err) => {
            agent.log.error(`reload refused, keeping the running configuration:\n${(err as Error).message}`);
          });
        }]);
        for (const [s, h] of handlers) Deno.addSignalListener(s, h);
        const stopGuard = guardUnhandled(agent);
        await agent.finished;
        stopGuard();
        for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
        return 0;
      },
    },
    {
      name: "reload",
      description: "re-read the configuration files (like SIGHUP); invalid files are refused and reported",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ out, options, client }) {
        const r = await client().json<{ files: number; restart_needed: string[]; warnings?: string[] }>(
          "POST",
          "/agent/reload",
        );
        if (options.json) out.json(r);
        else {
          // what the log says at WARNING, said here too: whoever just edited a file is reading this
          for (const w of r.warnings ?? []) out.error(`kunai: warning: ${w}`);
          out.line(`configuration reloaded (${r.files} file(s))`);
          if (r.restart_needed.length) out.line(`needs a restart to apply: ${r.restart_needed.join(", ")}`);
        }
        return 0;
      },
    },
    {
      name: "detect",
      description:
        "find the agents on this network: broadcast on the gossip port, list who answers (--auto-join: join the lowest uuid)",
      options: {
        addr: {
          type: "string",
          description: "broadcast (or one agent's) IPv4 address (default: the agent's gossip.detect_addr)",
        },
        port: { type: "string", description: "gossip port the others listen on (default: this agent's)" },
        timeout: {
          type: "string",
          description: "how long to wait for answers, 100ms-30s (default: gossip.detect_timeout, 3s)",
        },
        "auto-join": {
          type: "boolean",
          description: "join the agent with the lowest uuid among those not already members",
        },
        json: { type: "boolean", description: "JSON output" },
      },
      async run({ out, options, client }) {
        const q = new URLSearchParams();
        for (const k of ["addr", "port", "timeout"]) {
          const v = options[k];
          if (typeof v === "string") q.set(k, v);
        }
        // checked here too, so a typo is a usage error (exit 2) before anything is sent
        const { detectParams } = await import("../lib/gossip/mod.ts");
        let timeoutMs: number | undefined;
        try {
          timeoutMs = detectParams((k) => q.get(k) ?? undefined).timeoutMs;
        } catch (err) {
          throw new UsageError(`--${(err as Error).message}`);
        }
        const c = client();
        const r = await c.json<DetectAnswer>(
          "POST",
          `/agent/detect?${q}`,
          undefined,
          (timeoutMs ?? 30_000) + 10_000,
        );
        let joined: { name: string; addr: string; joined: boolean; error?: string } | undefined;
        if (options["auto-join"]) {
          const target = r.agents.find((a) => !a.known);
          if (target) {
            const addr = hostPort(target.addr, target.port);
            const j = await c.jsonWithHeaders<boolean>("POST", `/agent/join/${encodeURIComponent(addr)}`);
            const error = j.value === true ? undefined : j.headers.get(JOIN_ERROR_HEADER) ?? "unknown";
            joined = { name: target.name, addr, joined: j.value === true, ...(error ? { error } : {}) };
          }
        }
        if (options.json) out.json(options["auto-join"] ? { ...r, auto_join: joined ?? null } : r);
        else {
          const n = r.agents.length;
          out.line(`Detection on udp ${r.sent_to}: ${n} agent(s) answered within ${r.timeout_ms / 1000} s`);
          if (n) {
            const head = ["Node", "Address", "Uuid", "Zone", "Members", "Known"];
            const rows = r.agents.map((a) => [
              a.name,
              hostPort(a.addr, a.port),
              a.uuid,
              a.zone || "-",
              String(a.members),
              a.known ? "yes" : "no",
            ]);
            for (
              const l of alignRows([head, ...rows], (ri, _ci, cell) => ri ? cell : out.paint(cell, "bold"))
            ) {
              out.line(l);
            }
          }
          if (options["auto-join"]) {
            if (!joined) out.line("Nothing to join: no agent answered that is not already a member");
            else {
              out.line(
                `Joining ${joined.name} (${joined.addr}) : ${
                  joined.joined ? out.paint("OK", "green") : out.paint("FAILED", "red")
                }${joined.error ? ` (${joined.error})` : ""}`,
              );
            }
          }
        }
        if (options["auto-join"]) return joined?.joined ? 0 : 1;
        return r.agents.length ? 0 : 1;
      },
    },
    {
      name: "stop",
      description:
        "stop the local agent (POST /stop over the unix socket) and wait until its process has exited",
      options: { "no-wait": { type: "boolean", description: "return as soon as the agent accepted" } },
      async run({ out, options, client }) {
        const c = client();
        const { pid } = await c.json<{ pid: number }>("GET", "/agent/info");
        const { processRunning } = await import("../lib/lockfile.ts");
        // an agent in another pid namespace (a container sharing the socket) is not in our /proc
        const visible = processRunning(pid);
        const text = await c.text("POST", "/stop");
        out.line(text.trim() || "OK");
        if (options["no-wait"]) return 0;
        const end = performance.now() + 15_000;
        while (performance.now() < end) {
          await new Promise((r) => setTimeout(r, 50));
          if (visible) {
            // exited: its lock, port and socket are released with it
            if (!processRunning(pid)) return 0;
            continue;
          }
          try {
            const r = await c.request("GET", "/");
            await r.body?.cancel();
          } catch (err) {
            if (err instanceof AgentUnreachable) return 0;
            throw err;
          }
        }
        out.error(`kunai: the agent (pid ${pid}) accepted the stop but has not exited after 15 s`);
        return 1;
      },
    },
  ],
};

/** `--cfg-dir`/`--data-dir` values made absolute (both `--x DIR` and `--x=DIR`). */
export function absoluteDirArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^(--(?:cfg|data)-dir)=(.*)$/.exec(a);
    if (m) out.push(`${m[1]}=${resolve(m[2])}`);
    else if ((a === "--cfg-dir" || a === "--data-dir") && i + 1 < args.length) {
      out.push(a, resolve(args[++i]));
    } else out.push(a);
  }
  return out;
}

/**
 * Why a daemon that exited during its start failed: its last `start failed:` line (from the
 * tail of daemon.log, written by that pid's run), or null.
 */
export function startFailure(logFile: string, pid: number): string | null {
  let text: string;
  try {
    using f = Deno.openSync(logFile);
    const size = f.statSync().size;
    const from = Math.max(0, size - 65_536);
    f.seekSync(from, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - from);
    let off = 0;
    for (let n: number | null = 0; off < buf.length && n !== null; off += n ?? 0) {
      n = f.readSync(buf.subarray(off));
    }
    text = new TextDecoder().decode(buf.subarray(0, off));
  } catch {
    return null;
  }
  // only the lines after this run's own first line ("starting kunai ... (pid N)")
  const start = text.lastIndexOf(`(pid ${pid})`);
  if (start < 0) return null;
  const m = /\] ERROR: start failed: ([^\n]*)/.exec(text.slice(start));
  return m ? m[1] : null;
}

/**
 * A promise nobody awaits that fails, or a throw in a timer's callback, is a bug; Deno's default is
 * to end the process, which stops every service of the host for one bad message. The agent logs it
 * (at most one line every 10 s, with how many were not logged), counts it and goes on.
 */
export function guardUnhandled(agent: {
  log: { error(msg: string): void };
  counters: { inc(name: string): void };
}): () => void {
  let lastAt = -Infinity;
  let quiet = 0;
  const note = (what: string, reason: unknown) => {
    agent.counters.inc("agent_unhandled_errors_total");
    const now = performance.now();
    if (now - lastAt < 10_000) return void quiet++;
    lastAt = now;
    const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    agent.log.error(
      `${what} (a bug; the agent goes on${quiet ? `; ${quiet} more not logged` : ""}): ${
        text.slice(0, 2000)
      }`,
    );
    quiet = 0;
  };
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    note("unhandled rejection", e.reason);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    note("uncaught error", e.error ?? e.message);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}
