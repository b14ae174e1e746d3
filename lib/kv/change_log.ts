/** The change log of kv.db's apply sequences, held in memory (see ChangeLog). */

/** The change log is compacted once it holds this many stale entries more than live ones. */
const LOG_SLACK = 1024;

/**
 * Which key each local apply sequence stored, in memory: a key's current seq, and the seqs in the
 * order applied (an entry is stale once its key was applied again or deleted: skipped, and dropped
 * when the stale ones outnumber the live ones by LOG_SLACK). Inside a transaction every change can
 * be undone (rollback) until commit.
 *
 * ```ts
 * log.set("a", 1); log.set("b", 2); log.set("a", 3);
 * [...log.after(0, 10)]; // [["b", 2], ["a", 3]]
 * ```
 */
export class ChangeLog {
  #seqOf = new Map<string, number>();
  #seqs: number[] = [];
  #keys: string[] = [];
  /**
   * In a transaction: the entries' length at its start, and each change's key with the seq it held
   * before (undone newest first; two arrays: a Map's lookup per write cost more than a push)
   */
  #open = false;
  #mark = 0;
  #undoKeys: string[] = [];
  #undoSeqs: Array<number | undefined> = [];

  /** The highest seq held (0: none). */
  get last(): number {
    return this.#seqs.length ? this.#seqs[this.#seqs.length - 1] : 0;
  }

  /** Entries held, stale ones included. */
  get entries(): number {
    return this.#seqs.length;
  }

  /** `key` now holds `seq` (above every seq set before). */
  set(key: string, seq: number): void {
    this.#before(key);
    this.#seqOf.set(key, seq);
    this.#seqs.push(seq);
    this.#keys.push(key);
    if (!this.#open) this.#compactIfStale(); // a write outside a transaction
  }

  delete(key: string): void {
    if (!this.#seqOf.has(key)) return;
    this.#before(key);
    this.#seqOf.delete(key);
  }

  #before(key: string): void {
    if (!this.#open) return;
    this.#undoKeys.push(key);
    this.#undoSeqs.push(this.#seqOf.get(key));
  }

  /** Up to `limit` keys with the seq of their current version, for seqs above `since`, in order. */
  *after(since: number, limit: number): Generator<[string, number]> {
    const seqs = this.#seqs;
    let lo = 0, hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqs[mid] <= since) lo = mid + 1;
      else hi = mid;
    }
    let n = 0;
    for (let i = lo; i < seqs.length && n < limit; i++) {
      const key = this.#keys[i];
      if (this.#seqOf.get(key) !== seqs[i]) continue;
      n++;
      yield [key, seqs[i]];
    }
  }

  begin(): void {
    this.#open = true;
    this.#mark = this.#seqs.length;
  }

  commit(): void {
    this.#open = false;
    this.#undoKeys.length = this.#undoSeqs.length = 0;
    this.#compactIfStale();
  }

  rollback(): void {
    for (let i = this.#undoKeys.length - 1; i >= 0; i--) {
      const seq = this.#undoSeqs[i];
      if (seq === undefined) this.#seqOf.delete(this.#undoKeys[i]);
      else this.#seqOf.set(this.#undoKeys[i], seq);
    }
    this.#seqs.length = this.#keys.length = this.#mark;
    this.#open = false;
    this.#undoKeys.length = this.#undoSeqs.length = 0;
  }

  #compactIfStale(): void {
    if (this.#seqs.length - this.#seqOf.size > this.#seqOf.size + LOG_SLACK) this.#compact();
  }

  #compact(): void {
    const seqs: number[] = [];
    const keys: string[] = [];
    for (let i = 0; i < this.#seqs.length; i++) {
      if (this.#seqOf.get(this.#keys[i]) !== this.#seqs[i]) continue;
      seqs.push(this.#seqs[i]);
      keys.push(this.#keys[i]);
    }
    this.#seqs = seqs;
    this.#keys = keys;
  }
}
