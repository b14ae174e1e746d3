/**
 * The requests from other agents that ran something here (a signed `kunai exec` command, a query's
 * handler), kept until they expire in a file of the data dir (`exec-seen.json`, `query-seen.json`),
 * so that a request captured on the network and sent again after the agent restarted is still a
 * replay (gossip's and the peer envelope's memories do not survive a restart). A request is
 * recorded before what it runs starts: one that cannot be recorded (a full disk) is refused. When
 * the file cannot be read (damaged), requests issued before the agent started, plus the accepted
 * clock skew, are refused: the previous run may have run them.
 *
 * ```ts
 * const seen = new SeenRequests(join(dataDir, "exec-seen.json"), 30_000, "commands");
 * seen.load(Date.now()); // null, or why the file was not usable
 * if (!seen.has(key, req.issued)) seen.record(key, req.expires, Date.now()); // throws if not saved
 * ```
 */
import { writeAtomic } from "./mod.ts";

/** Requests remembered at most (each came authenticated; a bound all the same). */
export const SEEN_MAX = 10_000;

export class SeenRequests {
  /** Replay key → the request's expiry (epoch ms). */
  #seen = new Map<string, number>();
  /** Requests issued before this (epoch ms) may have been run by a run whose record was lost. */
  #unknownBefore = -Infinity;

  /**
   * `skewMs`: how far in the future a request may be issued (the sender's clock); `what`: the
   * requests' name in messages ("commands", "questions").
   */
  constructor(readonly path: string, readonly skewMs: number, readonly what: string) {}

  /** Reads the file (dropping what expired); returns why it could not be used, or null. */
  load(now: number): string | null {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      return this.#unknown(now, (err as Error).message);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return this.#unknown(now, `not JSON: ${(err as Error).message}`);
    }
    const list = (doc as { seen?: unknown } | null)?.seen;
    if (!Array.isArray(list)) return this.#unknown(now, 'no "seen" list');
    for (const e of list) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || !Number.isSafeInteger(e[1])) {
        return this.#unknown(now, "an entry is not [key, expiry]");
      }
      if (e[1] >= now && this.#seen.size < SEEN_MAX) this.#seen.set(e[0], e[1]);
    }
    return null;
  }

  #unknown(now: number, why: string): string {
    this.#unknownBefore = now + this.skewMs;
    return `${this.path}: ${why}; ${this.what} issued before ${
      new Date(this.#unknownBefore).toISOString()
    } are refused as possible replays`;
  }

  /** True when the request may have been accepted already (here, or by an earlier run). */
  has(key: string, issued: number): boolean {
    return this.#seen.has(key) || issued < this.#unknownBefore;
  }

  /**
   * Remembers an accepted request and saves the list; throws (DiskFullError...) when it cannot be
   * saved: the caller refuses the request, which stays remembered in memory.
   */
  record(key: string, expires: number, now: number): void {
    this.forget(now);
    if (this.#seen.size >= SEEN_MAX) throw new Error(`more than ${SEEN_MAX} unexpired ${this.what}`);
    this.#seen.set(key, expires);
    writeAtomic(this.path, JSON.stringify({ seen: [...this.#seen] }), { fsync: true, mode: 0o600 });
  }

  /** Drops what expired (in memory; the file follows at the next record). */
  forget(now: number): void {
    for (const [k, exp] of this.#seen) if (exp < now) this.#seen.delete(k);
  }

  get size(): number {
    return this.#seen.size;
  }
}
