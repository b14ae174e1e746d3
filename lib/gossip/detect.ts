/**
 * `kunai agent detect`: find the agents on this network that are not (yet) known, the way the
 * original's `agent detect` sent one UDP broadcast to the gossip port, and opsbro's answered it.
 * The request is one datagram (a broadcast or any address) sealed like all gossip when the cluster
 * has a key, so only agents holding one of its keys see it and only their answers are read.
 *
 * Answering is bounded: at most ANSWERS_PER_SECOND replies a second (a flood of requests costs
 * nothing more), never to our own request, and a reply is sent only when it is no larger than the
 * request that asked for it: the requester pads its request, so a forged source address cannot use
 * agents to send a victim more bytes than the forger sent.
 */
import { parseDuration } from "../clock/mod.ts";
import { ipv4 } from "../config/mod.ts";
import type { PeerAddr } from "../transport/mod.ts";
import { type DetectMsg, type DetectReplyMsg, encodedSize } from "./codec.ts";
import type { EngineCore } from "./core.ts";
import { hostPort } from "../host_port.ts";

/** Replies sent at most per second, and in one burst. */
export const ANSWERS_PER_SECOND = 10;
/** Size a request is padded to (its JSON): larger than any reply of a sane name and address. */
export const REQUEST_BYTES = 1024;
/** Most agents one detection reports (forged answers to a sniffed nonce cannot grow it further). */
export const MAX_DETECTED = 4096;
/** Longest a detection waits for answers. */
export const MAX_DETECT_MS = 30_000;

/** A detection's parameters (the route's query, the CLI's options). */
export interface DetectParams {
  addr?: string;
  port?: number;
  /** Default: the config's detect_timeout. */
  timeoutMs?: number;
}

/**
 * Reads and checks `addr` (IPv4), `port` (1-65535) and `timeout` (100ms-30s); throws an
 * Error whose message starts with the parameter's name.
 */
export function detectParams(get: (name: string) => string | undefined): DetectParams {
  const value = (k: string) => get(k) || undefined;
  const out: DetectParams = {};
  const addr = value("addr");
  if (addr !== undefined) {
    const issues: { path: string; message: string }[] = [];
    out.addr = ipv4().parse(addr, "addr", issues);
    if (out.addr === undefined) throw new Error(`addr: ${issues[0]?.message ?? "not an IPv4 address"}`);
  }
  const port = value("port");
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || +port < 1 || +port > 65535) {
      throw new Error(`port: must be 1-65535, got ${JSON.stringify(port)}`);
    }
    out.port = +port;
  }
  const timeout = value("timeout");
  if (timeout !== undefined) {
    const ms = parseDuration(timeout);
    if (ms === null || ms < 100 || ms > MAX_DETECT_MS) {
      throw new Error(`timeout: must be a duration from 100ms to 30s, got ${JSON.stringify(timeout)}`);
    }
    out.timeoutMs = ms;
  }
  return out;
}

/**
 * One agent that answered, as `POST /agent/detect` reports it: what it said (`members`: those it
 * knows alive or suspect, itself included, 1 = alone), where its answer came from (its address as
 * this network sees it), and whether it is already in our member table.
 */
export type DetectedAgent = Omit<DetectReplyMsg, "type" | "nonce"> & { from: string; known: boolean };

interface Pending {
  found: Map<string, DetectedAgent>;
  /** Resolves the detection with what it found (at its timeout, or when gossip stops). */
  finish(): void;
}

export class Detection {
  #core: EngineCore;
  #pending = new Map<string, Pending>();
  #tokens = ANSWERS_PER_SECOND;
  #refilledAt = -Infinity;

  constructor(core: EngineCore) {
    this.#core = core;
  }

  /**
   * Sends one detection request to `to` (a broadcast address, or one agent) from the gossip socket
   * and collects the answers for `timeoutMs`; sorted by uuid (the lowest first: `--auto-join`).
   */
  run(to: PeerAddr, timeoutMs: number): Promise<DetectedAgent[]> {
    const core = this.#core;
    const nonce = crypto.randomUUID();
    const msg: DetectMsg = { type: "detect", nonce, from: core.members.selfUuid, pad: "" };
    msg.pad = " ".repeat(Math.max(0, REQUEST_BYTES - encodedSize(msg) - 2));
    const done = new Promise<DetectedAgent[]>((resolve) => {
      const found = new Map<string, DetectedAgent>();
      const finish = () => {
        core.deps.clock.clearTimeout(timer);
        this.#pending.delete(nonce);
        resolve([...found.values()].sort((a, b) => a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
      };
      const timer = core.deps.clock.setTimeout(finish, Math.min(Math.max(0, timeoutMs), MAX_DETECT_MS));
      this.#pending.set(nonce, { found, finish });
    });
    core.send(to, [msg], false);
    core.deps.counters.inc("gossip_detect_requests_total", { dir: "sent" });
    return done;
  }

  /**
   * Another agent's request: answer it with who we are, if we answer and may. `size`: its share of
   * the datagram's bytes as received (a compressed request counts at its compressed size).
   */
  onRequest(msg: DetectMsg, from: PeerAddr, size: number): void {
    const core = this.#core;
    const { config, counters } = core.deps;
    if (msg.from === core.members.selfUuid || this.#pending.has(msg.nonce)) return; // our own broadcast
    counters.inc("gossip_detect_requests_total", { dir: "received" });
    if (!config.detect_answer) return;
    const self = core.members.self();
    let members = 0;
    for (const r of core.members.records()) if (r.state === "alive" || r.state === "suspect") members++;
    const reply: DetectReplyMsg = {
      type: "detect-reply",
      nonce: msg.nonce,
      uuid: self.uuid,
      name: self.name,
      addr: self.addr,
      port: self.port,
      zone: self.zone ?? "",
      members,
    };
    if (encodedSize(reply) + 2 > size) {
      return void counters.inc("gossip_detect_unanswered_total", { why: "larger_than_request" });
    }
    if (!this.#take()) return void counters.inc("gossip_detect_unanswered_total", { why: "rate" });
    core.send(from, [reply], false);
  }

  /** An answer to one of our requests (any other is dropped: it was not asked for). */
  onReply(msg: DetectReplyMsg, from: PeerAddr): void {
    const p = this.#pending.get(msg.nonce);
    if (!p || msg.uuid === this.#core.members.selfUuid) return;
    if (p.found.size >= MAX_DETECTED && !p.found.has(msg.uuid)) return;
    const { nonce: _nonce, type: _type, ...who } = msg;
    p.found.set(msg.uuid, {
      ...who,
      from: hostPort(from.addr, from.port),
      known: this.#core.members.get(msg.uuid) !== undefined,
    });
  }

  /** Token bucket: ANSWERS_PER_SECOND a second, refilled whole every second. */
  #take(): boolean {
    const now = this.#core.deps.clock.elapsed();
    if (now - this.#refilledAt >= 1000) {
      this.#tokens = ANSWERS_PER_SECOND;
      this.#refilledAt = now;
    }
    if (this.#tokens <= 0) return false;
    this.#tokens--;
    return true;
  }

  /** Ends every detection in flight now, each with what it found so far. */
  stop(): void {
    for (const p of [...this.#pending.values()]) p.finish();
  }
}
