/**
 * Messages that must reach every member once: keyring operations (rotation across the running
 * cluster) and payloads of other subsystems. De-duplicated by id, re-broadcast on first sight.
 * Key operations from the cluster apply one at a time, in the order they arrive (one packet
 * carries several); a `remove` of what is still our primary key (its `use` of the new key lost or
 * late) waits, up to PENDING_REMOVE_MS, for the use of another key (from the cluster or local),
 * then applies. A `use` carries when it was issued: one older than our primary's is ignored, so
 * `use A` then `use B` arriving as B, A still ends on B.
 */
import type { KeyOpMsg, UserMsg } from "./codec.ts";
import type { EngineCore } from "./core.ts";
import { decodeKey } from "../transport/mod.ts";
import { INCARNATION_MAX } from "../types.ts";

/** How long ids are remembered. */
const SEEN_TTL = 60_000;
/** At most this many ids remembered: past it the oldest go first (a sender choosing ids cannot grow it). */
export const SEEN_MAX = 100_000;
/** When the direct copies of a key operation are sent again. */
const DIRECT_RETRIES_MS = [500, 2000];
/** How long a cluster's `remove` of our primary key waits for the use of another key. */
const PENDING_REMOVE_MS = 10 * 60_000;
/**
 * A cluster's `use` stamped further ahead of our clock is refused: once taken, its stamp would
 * outrank every later rotation (at the decoder's top, a later `use` could not even be sent). An
 * issuer whose clock is that far off has its sealed messages dropped anyway (30 s window).
 */
const USE_AHEAD_MS = 24 * 3_600_000;

export class ClusterMessages {
  #core: EngineCore;
  #seen = new Map<string, number>();
  #handlers = new Map<string, Set<(payload: unknown, id: string) => void>>();
  /** The cluster's key operations, applied one after the other. */
  #keyOps: Promise<void> = Promise.resolve();
  /** Removals of our primary key from the cluster → when they stop waiting (clock ms). */
  #pendingRemove = new Map<string, number>();

  constructor(core: EngineCore) {
    this.#core = core;
  }

  /** Forgets ids older than the de-duplication window. */
  expire(): void {
    const now = this.#core.deps.clock.elapsed();
    for (const [id, t] of this.#seen) if (now - t > SEEN_TTL) this.#seen.delete(id);
  }

  #firstSight(id: string): boolean {
    if (this.#seen.has(id)) return false;
    if (this.#seen.size >= SEEN_MAX) {
      // insertion order is age order: forget the oldest
      this.#seen.delete(this.#seen.keys().next().value!);
      this.#core.deps.counters.inc("gossip_seen_evicted_total");
    }
    this.#seen.set(id, this.#core.deps.clock.elapsed());
    return true;
  }

  /**
   * Applies a key operation locally, then spreads it to every member: piggybacked gossip plus a
   * direct copy to each live member, sent three times (a rotation must not rely on luck).
   */
  async keyOp(op: KeyOpMsg["op"], key: string): Promise<void> {
    const { keyring } = this.#core.deps.envelope;
    // within what peers decode, even after a stamp saved by an agent before USE_AHEAD_MS existed
    const at = op === "use"
      ? Math.min(Math.max(this.#core.deps.clock.now(), keyring.primaryAt + 1), INCARNATION_MAX)
      : undefined;
    await this.#applyKeyOp(op, key, at);
    if (op === "use") this.#applyPendingRemoves();
    const id = crypto.randomUUID();
    this.#firstSight(id);
    const msg: KeyOpMsg = at === undefined
      ? { type: "keyop", op, key, id }
      : { type: "keyop", op, key, id, at };
    this.#core.queue.push(msg, null);
    const direct = () => {
      if (!this.#core.running) return;
      const self = this.#core.members.selfUuid;
      for (const r of this.#core.members.records()) {
        if (r.uuid !== self && (r.state === "alive" || r.state === "suspect")) {
          this.#core.send(r, [msg], false);
        }
      }
    };
    direct();
    for (const ms of DIRECT_RETRIES_MS) this.#core.deps.clock.setTimeout(direct, ms);
  }

  /** `at`: when a `use` was issued (absent: from an agent that does not say). */
  async #applyKeyOp(op: KeyOpMsg["op"], key: string, at?: number): Promise<void> {
    const { envelope: { keyring }, onKeyringChange } = this.#core.deps;
    if (op === "install") await keyring.install(key);
    else if (op === "use") {
      await keyring.install(key); // a `use` overtaking its `install` still works
      keyring.use(key);
      if (at !== undefined) keyring.primaryAt = Math.max(keyring.primaryAt, at); // a late re-use of the primary never lowers it
    } else keyring.remove(key);
    onKeyringChange?.();
  }

  /** A key operation from the cluster (only inside an encrypted cluster). */
  onKeyOp(msg: KeyOpMsg): Promise<void> {
    if (!this.#core.deps.envelope.enabled || !this.#firstSight(msg.id)) return Promise.resolve();
    this.#core.queue.push(msg, null);
    const run = this.#keyOps.then(() => this.#applyFromCluster(msg));
    this.#keyOps = run;
    return run;
  }

  async #applyFromCluster(msg: KeyOpMsg): Promise<void> {
    const { log, clock } = this.#core.deps;
    try {
      if (msg.op === "remove" && this.#isPrimary(msg.key)) {
        this.#pendingRemove.set(msg.key, clock.elapsed() + PENDING_REMOVE_MS);
        log.info("keyring: a remove of the primary key waits until another key is used");
        return;
      }
      if (msg.op === "use" && msg.at !== undefined && msg.at > clock.now() + USE_AHEAD_MS) {
        log.warn(
          `keyring: a use stamped ${new Date(msg.at).toISOString()} (ahead of this clock) was refused`,
        );
        return;
      }
      if (msg.op === "use" && this.#older(msg)) {
        log.info("keyring: a use issued before the current primary's was ignored (it arrived late)");
        return;
      }
      await this.#applyKeyOp(msg.op, msg.key, msg.at);
      log.info(`keyring: ${msg.op} applied from the cluster`);
    } catch (err) {
      log.warn(`keyring: ${msg.op} from the cluster failed: ${(err as Error).message}`);
      return;
    }
    if (msg.op === "use") this.#applyPendingRemoves();
  }

  /** True when a cluster's `use` was issued before the one that made our primary (ties: the larger key wins). */
  #older(msg: KeyOpMsg): boolean {
    const { keyring } = this.#core.deps.envelope;
    if (msg.at === undefined || this.#isPrimary(msg.key)) return false;
    if (msg.at !== keyring.primaryAt) return msg.at < keyring.primaryAt;
    return normalised(msg.key) < (keyring.list().primary ?? "");
  }

  /** Applies the cluster's waiting removals of keys that are no longer the primary. */
  #applyPendingRemoves(): void {
    const { log, envelope: { keyring }, clock } = this.#core.deps;
    for (const [key, until] of this.#pendingRemove) {
      if (until < clock.elapsed()) this.#pendingRemove.delete(key);
      else if (!this.#isPrimary(key)) {
        this.#pendingRemove.delete(key);
        try {
          keyring.remove(key);
          this.#core.deps.onKeyringChange?.();
          log.info("keyring: remove applied from the cluster (after the use of another key)");
        } catch (err) {
          log.warn(`keyring: remove from the cluster failed: ${(err as Error).message}`);
        }
      }
    }
  }

  #isPrimary(key: string): boolean {
    const primary = this.#core.deps.envelope.keyring.list().primary;
    return primary !== null && normalised(key) === primary;
  }

  /** Spreads a payload of another subsystem to every member (at most once each). */
  broadcast(kind: string, payload: unknown): string {
    const id = crypto.randomUUID();
    this.#firstSight(id);
    this.#core.queue.push({ type: "user", kind, id, payload }, null);
    return id;
  }

  /** Receives payloads of a kind; returns the unsubscribe function. */
  on(kind: string, fn: (payload: unknown, id: string) => void): () => void {
    let set = this.#handlers.get(kind);
    if (!set) this.#handlers.set(kind, set = new Set());
    set.add(fn);
    return () => set!.delete(fn);
  }

  onUser(msg: UserMsg): void {
    if (!this.#firstSight(msg.id)) return;
    this.#core.queue.push(msg, null);
    for (const fn of this.#handlers.get(msg.kind) ?? []) {
      try {
        fn(msg.payload, msg.id);
      } catch (err) {
        this.#core.deps.log.warn(`user message handler for ${msg.kind} failed: ${(err as Error).message}`);
      }
    }
  }
}

/** A key in the keyring's base64 form, or "" when it is not a key (its operation fails and says so). */
function normalised(key: string): string {
  try {
    return btoa(String.fromCharCode(...decodeKey(key)));
  } catch {
    return "";
  }
}
