/**
 * Messages that must reach every member once: keyring operations (rotation across the running
 * cluster) and payloads of other subsystems. De-duplicated by id, re-broadcast on first sight.
 */
import type { KeyOpMsg, UserMsg } from "./codec.ts";
import type { EngineCore } from "./core.ts";

/** How long ids are remembered. */
const SEEN_TTL = 60_000;
/** When the direct copies of a key operation are sent again. */
const DIRECT_RETRIES_MS = [500, 2000];

export class ClusterMessages {
  #core: EngineCore;
  #seen = new Map<string, number>();
  #handlers = new Map<string, Set<(payload: unknown, id: string) => void>>();

  constructor(core: EngineCore) {
    this.#core = core;
  }

  /** Forgets ids older than the de-duplication window. */
  expire(): void {
    const now = this.#core.deps.clock.now();
    for (const [id, t] of this.#seen) if (now - t > SEEN_TTL) this.#seen.delete(id);
  }

  #firstSight(id: string): boolean {
    if (this.#seen.has(id)) return false;
    this.#seen.set(id, this.#core.deps.clock.now());
    return true;
  }

  /**
   * Applies a key operation locally, then spreads it to every member: piggybacked gossip plus a
   * direct copy to each live member, sent three times (a rotation must not rely on luck).
   */
  async keyOp(op: KeyOpMsg["op"], key: string): Promise<void> {
    await this.#applyKeyOp(op, key);
    const id = crypto.randomUUID();
    this.#firstSight(id);
    const msg: KeyOpMsg = { type: "keyop", op, key, id };
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

  async #applyKeyOp(op: KeyOpMsg["op"], key: string): Promise<void> {
    const { envelope: { keyring }, onKeyringChange } = this.#core.deps;
    if (op === "install") await keyring.install(key);
    else if (op === "use") {
      await keyring.install(key); // a `use` overtaking its `install` still works
      keyring.use(key);
    } else keyring.remove(key);
    onKeyringChange?.();
  }

  /** A key operation from the cluster (only inside an encrypted cluster). */
  async onKeyOp(msg: KeyOpMsg): Promise<void> {
    if (!this.#core.deps.envelope.enabled || !this.#firstSight(msg.id)) return;
    this.#core.queue.push(msg, null);
    try {
      await this.#applyKeyOp(msg.op, msg.key);
      this.#core.deps.log.info(`keyring: ${msg.op} applied from the cluster`);
    } catch (err) {
      this.#core.deps.log.warn(`keyring: ${msg.op} from the cluster failed: ${(err as Error).message}`);
    }
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
