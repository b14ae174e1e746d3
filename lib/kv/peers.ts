/**
 * Agent-to-agent KV traffic: signed JSON requests to `http://<addr>:<port>/kv-internal/...`
 * with deadlines, and a batching replication pipe per peer (many writes share one request, a few
 * requests in flight per peer) so replication cost stays flat under load.
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../clock/mod.ts";
import type { PeerAuth } from "./peer_auth.ts";
import { fromWire, type KvRecord, toWire, type Version } from "./record.ts";
import type { RingNode } from "./ring.ts";

/** The peer did not answer (refused, reset, timed out). */
export class PeerUnreachable extends Error {
  constructor(readonly peer: RingNode, reason: string) {
    super(`${peer.name || peer.uuid.slice(0, 8)} (${peer.addr}:${peer.port}): ${reason}`);
    this.name = "PeerUnreachable";
  }
}

/** The peer answered with an error status. */
export class PeerRefused extends Error {
  constructor(readonly peer: RingNode, readonly status: number, readonly body: unknown) {
    const msg = body && typeof body === "object" && "error" in body
      ? String(body.error)
      : JSON.stringify(body);
    super(`${peer.name || peer.uuid.slice(0, 8)} answered ${status}: ${msg}`);
    this.name = "PeerRefused";
  }
}

/** One replicated record, with the optional conditions the replica checks. */
export interface ApplyItem {
  record: KvRecord;
  /** CAS: refuse when the replica holds a version newer than this one (the coordinator's base). */
  prev?: Version | null;
  /** Roll back: replace whatever is stored only if it is exactly this version (record null = drop). */
  replaceIf?: Version;
  /** With replaceIf: drop the row instead of storing `record` (undoing a create). */
  drop?: boolean;
}

export type ApplyResult = { ok: true } | { ok: false; current: KvRecord };

/** A forwarded write as the owner receives it (value in base64). */
export interface WireWrite {
  op: "put" | "delete";
  key: string;
  value?: string;
  flags?: number;
  ttl_ms?: number;
  cas?: number;
  deadline: number;
}

interface Pending<I, R> {
  item: I;
  size: number;
  resolve: (r: R) => void;
  reject: (e: Error) => void;
  deadline: number;
}

/** Items bound for one peer: a few batches in flight, the rest wait and leave together. */
interface Pipe<I, R> {
  queue: Pending<I, R>[];
  inflight: number;
  /** A pump is scheduled for the end of this event-loop turn. */
  due: boolean;
  peer: RingNode;
  send(peer: RingNode, batch: Pending<I, R>[]): Promise<void>;
}

const encoder = new TextEncoder();
const BATCH_MAX = 256;
const BATCH_BYTES = 4 * 1024 * 1024;
const INFLIGHT = 4;

export class PeerClient {
  /** Replaced at start once the keys are derived. */
  auth: PeerAuth;
  #clock: Clock;
  #timeoutMs: number;
  // deno-lint-ignore no-explicit-any
  #pipes = new Map<string, Pipe<any, any>>();
  /** Requests sent, and items that left through the batching pipes, for info(). */
  sent = 0;
  batched = 0;
  /** Fault injection for tests (network partitions): a reason makes the peer unreachable. */
  fault?: (peer: RingNode) => string | null;

  constructor(auth: PeerAuth, clock: Clock, timeoutMs: number) {
    this.auth = auth;
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Sends a JSON request; resolves the parsed answer of a 2xx, throws PeerRefused on 4xx/5xx and
   * PeerUnreachable when nothing answers before `deadline` (epoch ms; default now + timeout).
   */
  async request<T>(
    peer: RingNode,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    deadline?: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const now = this.#clock.now();
    const ms = Math.max(1, Math.min((deadline ?? now + this.#timeoutMs) - now, 15 * 60_000));
    const bytes = body === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(body));
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    const sig = await this.auth.sign(method, path, bytes, Date.now());
    if (sig) headers["x-kunai-peer-auth"] = sig;
    this.sent++;
    const cut = this.fault?.(peer);
    if (cut) throw new PeerUnreachable(peer, cut);
    let res: Response;
    try {
      res = await fetch(`http://${hostPart(peer.addr)}:${peer.port}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : bytes,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms),
      });
    } catch (err) {
      const e = err as Error;
      const reason = e.name === "TimeoutError"
        ? `no answer within ${Math.round(ms)} ms`
        : signal?.aborted
        ? "request cancelled"
        : shortReason(`${e.message} ${(e.cause as Error | undefined)?.message ?? ""}`);
      throw new PeerUnreachable(peer, reason);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new PeerUnreachable(peer, shortReason((err as Error).message));
    }
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch { /* keep text */ }
    if (!res.ok) throw new PeerRefused(peer, res.status, parsed);
    return parsed as T;
  }

  /** Replicates one record to `peer` through its batching pipe. */
  replicate(peer: RingNode, item: ApplyItem, deadline?: number): Promise<ApplyResult> {
    return this.#enqueue(
      `apply:${peer.uuid}`,
      peer,
      item,
      item.record.value.length + 200,
      deadline,
      (p, b) => this.#sendApply(p, b),
    );
  }

  /** Forwards a client's write to the owner `peer` (batched with others bound there). */
  forward(peer: RingNode, write: WireWrite): Promise<{ ok: boolean; index: number }> {
    return this.#enqueue(
      `write:${peer.uuid}`,
      peer,
      write,
      (write.value?.length ?? 0) + 200,
      write.deadline,
      (p, b) => this.#sendWrites(p, b),
    );
  }

  /** Reads `key` from `peer` (non-blocking reads bound there leave together). */
  read(peer: RingNode, key: string, deadline?: number): Promise<{ record: KvRecord | null; index: number }> {
    return this.#enqueue(
      `read:${peer.uuid}`,
      peer,
      key,
      key.length + 50,
      deadline,
      (p, b) => this.#sendReads(p, b),
    );
  }

  async #sendReads(
    peer: RingNode,
    batch: Pending<string, { record: KvRecord | null; index: number }>[],
  ): Promise<void> {
    const deadline = Math.max(...batch.map((p) => p.deadline));
    const ans = await this.request<{ results: Array<{ record: unknown; index: number }> }>(
      peer,
      "POST",
      "/kv-internal/reads",
      { keys: batch.map((p) => p.item) },
      deadline,
    );
    batch.forEach((p, i) => {
      const r = ans?.results?.[i];
      if (!r) p.reject(new PeerRefused(peer, 502, { error: "short read answer" }));
      else p.resolve({ record: r.record ? fromWire(r.record) : null, index: r.index });
    });
  }

  #enqueue<I, R>(
    id: string,
    peer: RingNode,
    item: I,
    size: number,
    deadline: number | undefined,
    send: (peer: RingNode, batch: Pending<I, R>[]) => Promise<void>,
  ): Promise<R> {
    let pipe = this.#pipes.get(id) as Pipe<I, R> | undefined;
    if (!pipe) this.#pipes.set(id, pipe = { queue: [], inflight: 0, due: false, peer, send });
    pipe.peer = peer;
    const p = new Promise<R>((resolve, reject) => {
      pipe.queue.push({
        item,
        size,
        resolve,
        reject,
        deadline: deadline ?? this.#clock.now() + this.#timeoutMs,
      });
    });
    // items queued during this event-loop turn leave together (setImmediate: µs, not a delay)
    if (!pipe.due) {
      pipe.due = true;
      setImmediate(() => {
        pipe.due = false;
        this.#pump(pipe);
      });
    }
    return p;
  }

  #pump<I, R>(pipe: Pipe<I, R>): void {
    while (pipe.queue.length && pipe.inflight < INFLIGHT) {
      const batch: Pending<I, R>[] = [];
      let size = 0;
      while (pipe.queue.length && batch.length < BATCH_MAX && size < BATCH_BYTES) {
        const p = pipe.queue.shift()!;
        size += p.size;
        batch.push(p);
      }
      pipe.inflight++;
      this.batched += batch.length;
      pipe.send(pipe.peer, batch).catch((err) => {
        for (const p of batch) p.reject(err as Error);
      }).finally(() => {
        pipe.inflight--;
        this.#pump(pipe);
      });
    }
  }

  async #sendApply(peer: RingNode, batch: Pending<ApplyItem, ApplyResult>[]): Promise<void> {
    const deadline = Math.max(...batch.map((p) => p.deadline));
    const body = {
      items: batch.map(({ item }) => ({
        record: toWire(item.record),
        prev: item.prev === undefined ? undefined : item.prev,
        replace_if: item.replaceIf,
        drop: item.drop || undefined,
      })),
    };
    const ans = await this.request<{ results: Array<{ ok: boolean; current?: unknown }> }>(
      peer,
      "POST",
      "/kv-internal/apply",
      body,
      deadline,
    );
    batch.forEach((p, i) => {
      const r = ans?.results?.[i];
      if (!r) p.reject(new PeerRefused(peer, 502, { error: "short apply answer" }));
      else if (r.ok) p.resolve({ ok: true });
      else p.resolve({ ok: false, current: fromWire(r.current) });
    });
  }

  async #sendWrites(
    peer: RingNode,
    batch: Pending<WireWrite, { ok: boolean; index: number }>[],
  ): Promise<void> {
    const deadline = Math.max(...batch.map((p) => p.deadline));
    const ans = await this.request<
      { results: Array<{ ok?: boolean; index?: number; status?: number; error?: string }> }
    >(
      peer,
      "POST",
      "/kv-internal/writes",
      { writes: batch.map((p) => p.item) },
      deadline,
    );
    batch.forEach((p, i) => {
      const r = ans?.results?.[i];
      if (!r) p.reject(new PeerRefused(peer, 502, { error: "short write answer" }));
      else if (r.error !== undefined) p.reject(new PeerRefused(peer, r.status ?? 503, { error: r.error }));
      else p.resolve({ ok: r.ok === true, index: r.index ?? 0 });
    });
  }
}

function hostPart(addr: string): string {
  return addr.includes(":") && !addr.startsWith("[") ? `[${addr}]` : addr;
}

function shortReason(msg: string): string {
  if (/refused|os error 111/i.test(msg)) return "connection refused";
  if (/reset|os error 104/i.test(msg)) return "connection reset";
  if (/unreachable|os error 113|os error 101/i.test(msg)) return "host unreachable";
  if (/timed out|os error 110/i.test(msg)) return "connection timed out";
  return msg.split("\n")[0].slice(0, 200);
}
