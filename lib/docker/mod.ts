/**
 * Docker subsystem (reference §10.10): talks to the Engine API over its unix socket from a Worker
 * that may touch only that socket, lists containers and images, follows events, and turns cgroup
 * v1/v2 counters into per-container and per-image stats. Disabled with a reason when there is no
 * socket; the Worker starts only once a socket exists.
 *
 * ```ts
 * const docker = createDocker(ctx);
 * await docker.start();
 * docker.stats().containers; // {cid: {"memory.rss": {type: "gauge", value, ...}}}
 * ```
 */
import { existsNoThrow } from "../fs/mod.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import { HttpError, type RouteTable } from "../routing/mod.ts";
import { NO_PERMISSIONS, type SandboxWorker } from "../sandbox/mod.ts";
import { nextOnGrid, type TimerId } from "../clock/mod.ts";
import type { RawCgroupStats } from "./cgroups.ts";
import { containerStats, imageSums, lowerKeys, type StatSet } from "./stats.ts";
import { type DockerRouteApi, dockerRoutes } from "./routes.ts";
import type { CgroupReply, PollReply } from "./protocol.ts";
import { redactInspect } from "./redact.ts";

export { containerStats, imageSums, lowerKeys, type StatSet, type StatValue } from "./stats.ts";
export { fromV1, fromV2, parseCgroupMounts } from "./cgroups.ts";
export { parseHttpResponse, unixGet } from "./http_unix.ts";
export { redactArgv, redactInspect } from "./redact.ts";

export interface DockerOptions {
  /** Mount table to find cgroup controllers (default /proc/mounts). */
  mountsPath?: string;
  /** Broker allow-list for cgroup files (default /sys/fs/cgroup/**). */
  cgroupAllow?: string[];
}

export interface DockerApi extends DockerRouteApi {
  /** One poll now (tests, CLI). */
  refresh(): Promise<void>;
  state(): DockerState;
}

export interface DockerState {
  enabled: boolean;
  connected: boolean;
  version: string | null;
  api: string | null;
  containers: number;
  images: number;
  /** why docker is disabled or disconnected, "" when fine */
  reason: string;
  events: Array<Record<string, unknown>>;
  /** Running containers whose cgroup stats could not be read at the last poll. */
  without_stats: number;
}

type Obj = Record<string, unknown>;
const MAX_EVENTS = 100;
/**
 * How often a host without a Docker socket looks for one again (the collectors' interval when that
 * is longer): a daemon installed later is noticed within a minute, and an idle agent on the many
 * hosts without Docker does not wake this subsystem every 10 s for nothing.
 */
export const NO_SOCKET_RECHECK_MS = 60_000;

export function createDocker(ctx: Ctx, opts: DockerOptions = {}): Subsystem & DockerApi {
  const socket = ctx.config.params.collectors.docker_socket;
  const interval = ctx.config.params.collectors.intervals.docker ?? ctx.config.params.collectors.interval;
  const timeout = ctx.config.params.collectors.timeout;
  const mountsPath = opts.mountsPath ?? "/proc/mounts";
  let worker: SandboxWorker | null = null;
  let timer: TimerId | null = null;
  let running = false;
  let lastPoll: number | null = null;
  /** The last refresh found no socket: the next one waits NO_SOCKET_RECHECK_MS. */
  let absent = false;
  const st: DockerState = {
    enabled: false,
    connected: false,
    version: null,
    api: null,
    containers: 0,
    images: 0,
    reason: "not polled yet",
    events: [],
    without_stats: 0,
  };
  /** Why some containers have no stats, as last said in the log ("" when all have). */
  let statsProblem = "";
  let eventsProblem = "";
  function setEventsProblem(why: string): void {
    if (why !== eventsProblem) {
      ctx.log.warn(`docker: events not read (${why}); asked again from the same time`);
    }
    eventsProblem = why;
  }
  let containers: Obj[] = [];
  let images: Obj[] = [];
  let stats: Record<string, StatSet> = {};
  let imageStats: Record<string, StatSet> = {};
  const samples = new Map<string, { at: number; raw: RawCgroupStats }>();

  function getWorker(): SandboxWorker {
    worker ??= ctx.sandbox.spawn({
      name: "docker",
      module: new URL("./worker.ts", import.meta.url),
      permissions: { ...NO_PERMISSIONS, net: [`unix:${socket}`], read: [socket], write: [socket] },
      brokerAllow: [mountsPath, ...(opts.cgroupAllow ?? ["/sys/fs/cgroup/**"])],
    });
    return worker;
  }

  function setReason(reason: string, connected: boolean, enabled: boolean): void {
    if (reason && reason !== st.reason) ctx.log.info(`docker: ${reason}`);
    st.reason = reason;
    st.connected = connected;
    st.enabled = enabled;
  }

  async function refresh(): Promise<void> {
    // asked first without an exception: a host without Docker answers this every 10 s, and each
    // NotFound error costs a stack trace
    let missing = existsNoThrow(socket) ? null : "not found";
    if (missing === null) {
      try {
        const s = Deno.statSync(socket);
        if (s.isFile || s.isDirectory) missing = "not a socket";
      } catch (err) {
        missing = (err as Error).message;
      }
    }
    absent = missing !== null;
    if (missing !== null) {
      setReason(`disabled: no Docker socket at ${socket} (${missing})`, false, false);
      return;
    }
    const now = ctx.clock.now();
    try {
      const w = getWorker();
      const until = Math.floor(now / 1000);
      const poll = await w.call<PollReply>("poll", { socket, since: lastPoll, until }, timeout);
      // events the daemon would not give (a non-200) are asked for again from the same point
      if (poll.events_error === undefined) lastPoll = until;
      else setEventsProblem(poll.events_error);
      st.version = String(poll.version.Version ?? "");
      st.api = String(poll.version.ApiVersion ?? "");
      // environment values and secret-looking arguments never reach the (open) read routes
      containers = poll.containers.map((c) => lowerKeys(redactInspect(c)) as Obj);
      images = poll.images.map((i) => lowerKeys(i) as Obj);
      st.containers = containers.length;
      st.images = images.length;
      st.events = [...st.events, ...poll.events].slice(-MAX_EVENTS);
      const ids = poll.containers.map((c) => String(c.Id));
      const raw = ids.length ? await w.call<CgroupReply>("cgroups", { ids, mountsPath }, timeout) : {};
      const next: Record<string, StatSet> = {};
      const imageOf: Record<string, string> = {};
      const missing: string[] = [];
      for (const c of poll.containers) {
        const id = String(c.Id);
        const r = raw[id];
        if (!r || "error" in r) {
          missing.push(`${id.slice(0, 12)}: ${r ? r.error : "no answer"}`);
          continue;
        }
        const prev = samples.get(id);
        next[id] = containerStats(prev?.raw, r, prev ? (now - prev.at) / 1000 : 0);
        samples.set(id, { at: now, raw: r });
        imageOf[id] = imageName(c, poll.images);
      }
      for (const id of samples.keys()) if (!ids.includes(id)) samples.delete(id);
      // said when the reason changes (a cgroup layout or broker path the Worker cannot read)
      st.without_stats = missing.length;
      const why = missing.length ? missing[0].slice(missing[0].indexOf(": ") + 2) : "";
      if (why !== statsProblem) {
        if (why) {
          ctx.log.warn(
            `docker: no stats for ${missing.length} container(s): ${missing.slice(0, 3).join("; ")}`,
          );
        } else ctx.log.info("docker: every container has its stats again");
        statsProblem = why;
      }
      stats = next;
      imageStats = imageSums(next, imageOf);
      setReason("", true, true);
    } catch (err) {
      setReason(`cannot talk to Docker at ${socket}: ${(err as Error).message}`, false, true);
    }
  }

  function schedule(delay: number): void {
    if (!running) return;
    timer = ctx.clock.setTimeout(() => {
      timer = null;
      // the next poll on the epoch grid of the interval (one wake-up with the agent's other 10 s jobs)
      void refresh().finally(() => {
        const now = ctx.clock.now();
        const every = absent ? Math.max(interval, NO_SOCKET_RECHECK_MS) : interval;
        schedule(nextOnGrid(now + every / 2, every) - now);
      });
    }, delay);
  }

  // an exact id or name wins; else the one id starting with it, as `docker inspect` takes a prefix
  // (an empty prefix, `sha256:` alone, matched the first image; two matches answered the first one)
  const findContainer = (id: string) =>
    unique(
      "container",
      id,
      containers.find((c) => String(c.id) === id || String(c.name ?? "").replace(/^\//, "") === id),
      id ? containers.filter((c) => String(c.id).startsWith(id)) : [],
    );
  const findImage = (id: string) => {
    const bare = id.replace(/^sha256:/, "");
    return unique(
      "image",
      id,
      images.find((i) => String(i.id) === id),
      bare ? images.filter((i) => String(i.id).replace(/^sha256:/, "").startsWith(bare)) : [],
    );
  };

  const api: Subsystem & DockerApi = {
    name: "docker",
    start() {
      running = true;
      schedule(0);
      return Promise.resolve();
    },
    stop() {
      running = false;
      if (timer !== null) ctx.clock.clearTimeout(timer);
      worker?.terminate();
      worker = null;
      return Promise.resolve();
    },
    info() {
      return st.connected
        ? {
          enabled: true,
          connected: true,
          version: st.version,
          api: st.api,
          containers: st.containers,
          images: st.images,
          containers_without_stats: st.without_stats,
        }
        : { enabled: st.enabled, connected: false, reason: st.reason };
    },
    routes(): RouteTable {
      return dockerRoutes(api);
    },
    refresh,
    state: () => ({ ...st }),
    connected: () => st.connected,
    containers: () => containers,
    container: findContainer,
    images: () => images,
    image: findImage,
    stats: () => ({ containers: stats, images: imageStats }),
  };
  return api;
}

/** First RepoTag of the container's image, else its configured image name. */
function imageName(c: Obj, images: Obj[]): string {
  const img = images.find((i) => i.Id === c.Image);
  const tags = img?.RepoTags as string[] | undefined;
  if (tags && tags.length && tags[0] !== "<none>:<none>") return tags[0];
  const cfg = c.Config as Obj | undefined;
  return String(cfg?.Image ?? c.Image ?? "unknown");
}

/** `exact`, else the one of `byPrefix`; null when none; a 400 naming the count when several match. */
function unique(kind: string, id: string, exact: Obj | undefined, byPrefix: Obj[]): Obj | null {
  if (exact) return exact;
  if (byPrefix.length > 1) {
    throw new HttpError(
      400,
      `${byPrefix.length} ${kind}s have an id starting with ${JSON.stringify(id)}: give more of it`,
    );
  }
  return byPrefix[0] ?? null;
}
