/**
 * Metrics across the cluster: with members tagged `ts`, every series has one owner on the SHA1 ring
 * (ts_ring.ts). Points and statsd lines owned elsewhere are forwarded in batches (peer_client.ts);
 * reads ask every `ts` node for the series matching a path and merge. Without `ts` members, all
 * stays local and the hot paths are untouched.
 */
import type { MemberRecord, MembershipView } from "../types.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import type { Logger } from "../log/mod.ts";
import { peerResponse, readPeerBody, RouteTable } from "../routing/mod.ts";
import { HttpError } from "../routing/mod.ts";
import type { MetricsService } from "./service.ts";
import { tsMembers, TsRing } from "./ts_ring.ts";
import {
  type ForwardBatch,
  Forwarder,
  IngestedBatches,
  PEER_ANSWER_MAX,
  peerCall,
  PeerStatusError,
  saveIngested,
  takeIngested,
} from "./peer_client.ts";
import type { Database } from "../store/mod.ts";
import { MAX_RENDER_POINTS } from "./render_functions.ts";
import { RenderError, type SeriesSource } from "./render.ts";
import { PatternError } from "./glob.ts";
import type { FetchedSeries } from "./ts_store.ts";
import { sanitizeKey, statsdKey } from "./statsd_parse.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
/** A series fetch answers at most MAX_RENDER_POINTS values (`fetchLocal`), ~26 bytes each in JSON at most. */
const FETCH_ANSWER_MAX = MAX_RENDER_POINTS * 26 + PEER_ANSWER_MAX;
/** How long the other ts nodes' lists of metric names are reused (finds, tags, the UI tree). */
export const NAMES_TTL_MS = 1000;
/**
 * How long a `ts` node that did not answer a read is left out of the next ones (renders, finds, the
 * lists): they answer at once without its series instead of waiting for it each time, as graphite-web
 * leaves out a cluster server that failed for REMOTE_RETRY_DELAY (60 s there). A ring that drops the
 * node (gossip found it dead, or it left) and takes it back ends this sooner.
 */
export const READ_RETRY_MS = 10_000;
/** How long a read waits for another `ts` node. */
const READ_TIMEOUT_MS = 5000;
/** The ring's log line names this many nodes at most (a cluster without a key may hold thousands). */
const RING_LOG_NAMES = 8;

export interface ClusterOptions {
  membership?: Pick<MembershipView, "self" | "members" | "joining">;
  envelope?: PeerEnvelope;
  /**
   * Member changes (`member.*` bus events): the ring is rebuilt after each burst (one datagram's
   * changes) when its ts nodes changed.
   */
  onMemberChange?: (fn: () => void) => () => void;
  batchSize: number;
  /** How long a ts node that did not answer a read is left out of the next ones (READ_RETRY_MS). */
  readRetryMs?: number;
  log: Logger;
  /** metrics.db: the ids of the batches taken are handed from a stop to the next start there. */
  db?: Database;
}

export class MetricsCluster {
  ring: TsRing = TsRing.of([]);
  readonly forwarder: Forwarder;
  #svc: MetricsService;
  #opts: ClusterOptions;
  /** The ts nodes the ring was built of (null: not built yet, the first build always runs). */
  #signature: string | null = null;
  #off: (() => void) | null = null;
  /** A rebuild waits for the end of the current task: a datagram of 256 joins is one rebuild, not 256. */
  #rebuildQueued = false;
  #ingested = new IngestedBatches();

  constructor(svc: MetricsService, opts: ClusterOptions) {
    this.#svc = svc;
    this.#opts = opts;
    this.forwarder = new Forwarder(
      opts.envelope,
      opts.batchSize,
      200_000,
      (m) => opts.log.warn(`forward: ${m}`),
    );
  }

  /** Binds the hooks of the service and follows membership changes. */
  start(): void {
    const svc = this.#svc;
    svc.route = (name, value, ts) => {
      const owner = this.ring.owner(name);
      if (owner === null || this.#isSelf(owner)) svc.store.add(name, value, ts);
      else {
        this.forwarder.point(owner, name, value, ts);
        svc.wake();
      }
    };
    svc.statsdPacket = (bytes) => {
      if (this.#allLocal()) svc.statsd.ingestBytes(bytes);
      else for (const line of decoder.decode(bytes).split("\n")) this.#statsdLine(line.replace(/\r$/, ""));
    };
    svc.statsdLine = (line) => this.#allLocal() ? svc.localStatsdLine(line) : this.#statsdLine(line);
    svc.afterFlush = () => void this.forwarder.flush();
    svc.beforeStatsdFlush = () => this.#sendStrays();
    svc.handOffStatsd = () => this.#handOff();
    svc.skipFirstStatsdFlush = () =>
      this.#opts.membership?.joining?.() === true || this.#remotes().length > 0;
    svc.backlog = () => this.forwarder.waiting > 0 || this.forwarder.sending;
    this.#takeIngested();
    const m = this.#opts.membership;
    if (m) {
      this.#rebuild();
      this.#off = this.#opts.onMemberChange?.(() => this.#queueRebuild()) ?? null;
    }
  }

  async stop(): Promise<void> {
    this.#off?.();
    this.#off = null;
    await this.forwarder.flush();
    // after the service's stop: what these batches brought is flushed or carried over by now
    const db = this.#opts.db;
    if (!db?.isOpen) return;
    try {
      const n = saveIngested(db, this.#ingested, Date.now());
      if (n) this.#opts.log.debug(`forwarded batches: ${n} id(s) taken lately handed to the next start`);
    } catch (err) {
      this.#opts.log.warn(`forwarded batches: the ids taken lately are not kept: ${(err as Error).message}`);
    }
  }

  /** The ids of the batches the last process took: one sent again across the restart is not taken twice. */
  #takeIngested(): void {
    const db = this.#opts.db;
    if (!db?.isOpen) return;
    try {
      const n = takeIngested(db, this.#ingested, Date.now());
      if (n) this.#opts.log.info(`forwarded batches: ${n} id(s) taken before the restart are remembered`);
    } catch (err) {
      this.#opts.log.warn(
        `forwarded batches: the ids the last stop handed over are dropped: ${(err as Error).message}`,
      );
    }
  }

  #isSelf(node: MemberRecord): boolean {
    return node.uuid === this.#opts.membership?.self().uuid;
  }

  /** No ring, or a ring of only ourselves. */
  #allLocal(): boolean {
    return this.ring.empty || (this.ring.nodes.length === 1 && this.#isSelf(this.ring.nodes[0]));
  }

  #statsdLine(line: string, ring = this.ring): void {
    if (line === "") return;
    const colon = line.indexOf(":");
    const key = colon > 0 ? statsdKey(line.slice(0, colon)) : null;
    const owner = key !== null
      ? ring.owner(typeof key === "string" ? key : sanitizeKey(line.slice(0, colon)))
      : null;
    if (owner === null || this.#isSelf(owner)) this.#svc.statsd.ingestLine(line);
    else {
      this.forwarder.statsdLine(owner, line);
      this.#svc.wake();
    }
  }

  /** statsd lines of names owned elsewhere sent on before a flush (see #sendStrays). */
  strays = 0;

  /**
   * Lines of a name this node does not own reach it after its ring changed (another node's forwarder
   * held them for the old owner, or the rings of two nodes did not agree yet): aggregated and flushed
   * here, they would be a second point for the owner's bucket, which keeps only the last. So before
   * each flush they go on to the owner (into its next interval when they come after its flush).
   */
  #sendStrays(): void {
    if (this.#allLocal()) return;
    const n = this.#sendOn();
    if (!n) return;
    this.strays += n;
    this.#opts.log.debug(`statsd: ${n} line(s) of names owned by other ts nodes sent on before the flush`);
  }

  /** Sends what the aggregator holds of names another node owns to their owners; how many lines. */
  #sendOn(): number {
    // the aggregator's names are already keys (statsdKey's output): the ring's cache answers them
    const lines = this.#svc.statsd.drainLinesOf((name) => {
      const owner = this.ring.owner(name);
      return owner !== null && !this.#isSelf(owner);
    });
    for (const line of lines) this.#statsdLine(line);
    return lines.length;
  }

  /**
   * At a stop: what this node aggregated goes to the nodes that own its names in the ring without it
   * (the ring the others build when it leaves), sent by the forwarder's last flush (stop()); null when
   * no other ts node is there.
   */
  #handOff(): number | null {
    const others = this.ring.nodes.filter((n) => !this.#isSelf(n));
    if (this.#allLocal() || others.length === 0) return null;
    const ring = TsRing.of(others, 64, this.ring);
    const lines = this.#svc.statsd.drainLines();
    for (const line of lines) this.#statsdLine(line, ring);
    return lines.length;
  }

  #queueRebuild(): void {
    if (this.#rebuildQueued) return;
    this.#rebuildQueued = true;
    queueMicrotask(() => {
      this.#rebuildQueued = false;
      if (this.#off) this.#rebuild();
    });
  }

  #rebuild(): void {
    // the ts nodes compared before anything is built: a ring costs 64 SHA1 per node and a sort
    const nodes = tsMembers(this.#opts.membership!.members());
    const sig = nodes.map((n) => `${n.uuid}@${n.addr}:${n.port}`).join(",");
    if (sig === this.#signature) return;
    this.#signature = sig;
    const next = TsRing.of(nodes, 64, this.ring);
    this.ring = next;
    for (const uuid of this.#readFailed.keys()) {
      if (!next.nodes.some((n) => n.uuid === uuid)) this.#readFailed.delete(uuid);
    }
    // the statsd Worker aggregates only while every key is ours (it hands what it held to us when
    // that ends); what our own aggregator held under the previous ring (the interval so far, and the
    // gauges it keeps for good) goes where this one says: kept, a name now another node's would be
    // written by us at every flush, over that owner's newer values (our own names stay where they
    // are: moved through the parser again, they were counted again); alone again, all of it goes to
    // the Worker, counted once
    const local = this.#allLocal();
    this.#svc.setStatsdLocal(local);
    if (local) this.#svc.statsdBackToLocal();
    else this.#sendOn();
    this.#opts.log.info(`ts ring: ${ringSummary(next.nodes)}`);
    for (const orphan of this.forwarder.retain(new Set(next.nodes.map((n) => n.uuid)))) this.#reroute(orphan);
  }

  #reroute(batch: ForwardBatch): void {
    for (const [n, v, ts] of batch.points) this.#svc.route(n, v, ts);
    for (const line of batch.statsd) this.#statsdLine(line);
  }

  /** Other `ts` nodes (reads ask them too). */
  #remotes(): MemberRecord[] {
    return this.ring.nodes.filter((n) => !this.#isSelf(n));
  }

  /**
   * Local series plus those of every other `ts` node that answers; copies of one name are merged
   * (`mergeCopies`). A node that does not answer is left out (see #read), as graphite-web answers
   * with the cluster servers that did; one that refuses the request (a 400) fails the render.
   */
  readonly source: SeriesSource = {
    fetch: async (pattern, from, until) => {
      const local = this.#svc.fetchLocal(pattern, from, until);
      const remote = await Promise.all(
        this.#readable().map((n) =>
          this.#read(n, "/metrics-internal/fetch", { pattern, from, until }, "series", FETCH_ANSWER_MAX)
        ),
      );
      return mergeCopies([local, ...remote as FetchedSeries[][]].flat());
    },
  };

  /** ts nodes left out of reads after one they did not answer: uuid -> when they are asked again. */
  #readFailed = new Map<string, number>();
  /** Reads another `ts` node did not answer (each left its series out of a render or a list). */
  readFailures = 0;

  /** The other `ts` nodes a read asks: those not left out after a failure (READ_RETRY_MS). */
  #readable(): MemberRecord[] {
    const remotes = this.#remotes();
    if (this.#readFailed.size === 0) return remotes;
    const now = performance.now();
    return remotes.filter((n) => !(now < (this.#readFailed.get(n.uuid) ?? 0)));
  }

  /**
   * The list `field` of node n's answer to `path`; an empty list when n cannot be reached, does not
   * answer in time, fails or answers something else (counted, said once, and n left out of reads for
   * READ_RETRY_MS); a 400 (the request itself refused: a render too large there) is thrown.
   */
  async #read(
    n: MemberRecord,
    path: string,
    payload: unknown,
    field: string,
    maxBytes = PEER_ANSWER_MAX,
  ): Promise<unknown[]> {
    let why: string;
    try {
      const r = await peerCall(this.#opts.envelope, n, path, payload, READ_TIMEOUT_MS, maxBytes);
      const list = (r as Record<string, unknown> | null)?.[field];
      if (Array.isArray(list)) {
        if (this.#readFailed.delete(n.uuid)) this.#opts.log.info(`ts node ${n.name} answers reads again`);
        return list;
      }
      why = `its answer has no ${field} list`;
    } catch (err) {
      if (err instanceof PeerStatusError && err.status === 400) {
        throw new HttpError(400, `ts node ${n.name}: ${err.message}`);
      }
      why = (err as Error).message;
    }
    this.readFailures++;
    const first = !this.#readFailed.has(n.uuid);
    const retry = this.#opts.readRetryMs ?? READ_RETRY_MS;
    this.#readFailed.set(n.uuid, performance.now() + retry);
    const line = `ts node ${n.name} (${n.addr}:${n.port}) did not answer ${path}: ${why}; ` +
      `renders and lists leave out the series it stores, it is asked again in ${retry / 1000} s`;
    if (first) this.#opts.log.warn(line);
    else this.#opts.log.debug(line);
    return [];
  }

  /** Every metric name of the cluster's `ts` nodes (ours included), sorted. */
  names(): Promise<string[]> {
    const local = this.#svc.store.names();
    // alone: the store's own sorted list, the same array until a name is added (what the tag
    // index is cached by)
    if (this.#readable().length === 0) return Promise.resolve(local);
    // asking every ts node for all its names is dear: their lists are reused for NAMES_TTL_MS (and
    // shared by the requests that come while they are asked); ours are always fresh
    const now = performance.now();
    if (!this.#remoteNames || now - this.#remoteNames.at >= NAMES_TTL_MS) {
      const asked = this.#askNames();
      this.#remoteNames = { at: now, lists: asked };
      asked.catch(() => {
        if (this.#remoteNames?.lists === asked) this.#remoteNames = null; // asked again next time
      });
    }
    const lists = this.#remoteNames.lists;
    return lists.then((remote) => {
      // the same array while neither side changed: the tag index built on it holds
      const m = this.#merged;
      if (m && m.local === local && m.remote === remote) return m.list;
      const all = new Set(local);
      for (const list of remote) for (const n of list) all.add(n);
      const list = [...all].sort();
      this.#merged = { local, remote, list };
      return list;
    });
  }

  #remoteNames: { at: number; lists: Promise<string[][]> } | null = null;
  #merged: { local: string[]; remote: string[][]; list: string[] } | null = null;

  #askNames(): Promise<string[][]> {
    return Promise.all(
      this.#readable().map((n) =>
        this.#read(n, "/metrics-internal/names", {}, "names").then((names) =>
          names.filter((x): x is string => typeof x === "string")
        )
      ),
    );
  }

  /** Agent-to-agent routes: forwarded points in, series and names out. */
  peerRoutes(r: RouteTable): void {
    const json = async (c: Parameters<typeof readPeerBody>[0]) => {
      const body = await readPeerBody(c);
      let v: unknown;
      try {
        v = JSON.parse(decoder.decode(body));
      } catch (err) {
        throw new HttpError(400, `invalid JSON: ${(err as Error).message}`);
      }
      // `null` or an array: a 400 like any other bad body (reading a field of null was a 500)
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        throw new HttpError(400, "expected a JSON object");
      }
      return v as Record<string, unknown>;
    };
    r.peer(
      "POST",
      "/metrics-internal/ingest",
      "points and statsd lines forwarded to their ts owner",
      async (c) => {
        const b = await json(c);
        // a batch sent again because its answer was lost: answered, not taken twice
        if (typeof b.id === "string" && b.id.length <= 64 && this.#ingested.seen(b.id, Date.now())) {
          return peerResponse(c, encoder.encode(JSON.stringify({ stored: 0, lines: 0, duplicate: true })));
        }
        // absent is empty; anything else than a list is a sender's bug, said rather than taken as nothing
        for (const field of ["points", "statsd"]) {
          if (b[field] !== undefined && !Array.isArray(b[field])) {
            throw new HttpError(400, `${field}: expected a list, got ${typeof b[field]}`);
          }
        }
        const points = (b.points ?? []) as unknown[];
        const lines = (b.statsd ?? []) as unknown[];
        let stored = 0;
        for (const p of points) {
          if (
            !Array.isArray(p) || typeof p[0] !== "string" || typeof p[1] !== "number" ||
            typeof p[2] !== "number"
          ) {
            continue;
          }
          if (this.#svc.store.add(p[0], p[1], p[2])) stored++;
        }
        for (const l of lines) if (typeof l === "string") this.#svc.statsd.ingestLine(l);
        return peerResponse(c, encoder.encode(JSON.stringify({ stored, lines: lines.length })));
      },
    );
    r.peer("POST", "/metrics-internal/fetch", "series of this node matching a path", async (c) => {
      const b = await json(c);
      if (typeof b.pattern !== "string" || typeof b.from !== "number" || typeof b.until !== "number") {
        throw new HttpError(400, "expected {pattern, from, until}");
      }
      let series;
      try {
        series = this.#svc.fetchLocal(b.pattern, b.from, b.until);
      } catch (err) {
        // a pattern that does not parse, or that matches more series than a render may read
        if (err instanceof PatternError || err instanceof RenderError) throw new HttpError(400, err.message);
        throw err;
      }
      return peerResponse(c, encoder.encode(JSON.stringify({ series })));
    });
    r.peer("POST", "/metrics-internal/names", "metric names stored on this node", async (c) => {
      await json(c);
      return peerResponse(c, encoder.encode(JSON.stringify({ names: this.#svc.store.names() })));
    });
  }

  info(): Record<string, unknown> {
    const readable = this.#readable();
    return {
      ts_nodes: this.ring.nodes.map((n) => n.name),
      statsd_strays: this.strays,
      statsd_flushes_skipped: this.#svc.flushesSkipped,
      waiting: this.forwarder.waiting,
      ...this.forwarder.stats,
      last_forward_error: this.forwarder.lastError || null,
      read_failures: this.readFailures,
      reads_leave_out: this.#remotes().filter((n) => !readable.includes(n)).map((n) => n.name),
    };
  }
}

/** The ring's nodes for the log: their names, or how many and the first few when there are many. */
export function ringSummary(nodes: MemberRecord[]): string {
  if (!nodes.length) return "no ts node (all local)";
  const names = nodes.slice(0, RING_LOG_NAMES).map((n) => n.name.slice(0, 64)).join(", ");
  return nodes.length <= RING_LOG_NAMES ? names : `${nodes.length} nodes: ${names}, ...`;
}

/**
 * One series per name of copies fetched from several `ts` nodes. A name has copies on two nodes when
 * its owner changed (a node left, joined or restarted): the buckets stored meanwhile are on the
 * other node. On the same grid the copies are merged bucket by bucket, the fuller copy's value kept
 * where both have one; on different grids (retentions that differ between nodes) the fuller copy
 * alone is kept.
 */
export function mergeCopies(all: FetchedSeries[]): FetchedSeries[] {
  const byName = new Map<string, FetchedSeries[]>();
  for (const s of all) {
    const list = byName.get(s.name);
    if (list) list.push(s);
    else byName.set(s.name, [s]);
  }
  const filled = (s: FetchedSeries) => s.values.reduce((n: number, v) => v === null ? n : n + 1, 0);
  const out: FetchedSeries[] = [];
  for (const copies of byName.values()) {
    if (copies.length === 1) {
      out.push(copies[0]);
      continue;
    }
    copies.sort((a, b) => filled(b) - filled(a));
    const [first] = copies;
    const values = first.values.slice();
    for (const c of copies.slice(1)) {
      if (c.start !== first.start || c.step !== first.step || c.values.length !== values.length) continue;
      for (let i = 0; i < values.length; i++) if (values[i] === null) values[i] = c.values[i];
    }
    out.push({ ...first, values });
  }
  return out;
}
