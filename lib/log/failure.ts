/**
 * A failure that recurs on every tick (a full disk, a read-only data dir) logged as one line, not a
 * flood: the first failure at ERROR, the same one again at most once per `everyMs` (with how many
 * times since), a different one at once, and its end at INFO: the first success (with `settleMs`,
 * the first one that long after the last failure: a loop whose every other try fails, such as
 * accepting connections out of file descriptors, is still one failure, not two lines per try).
 *
 * ```ts
 * const note = new FailureNote(log, "saving check states"); // "saving check states failed: ..."
 * try { flush(); note.ok(); } catch (err) { note.fail(err as Error); }
 * ```
 */
import type { Logger } from "./mod.ts";

export class FailureNote {
  #text = "";
  #loggedAt = 0;
  #since = 0;
  #count = 0;
  #lastFail = 0;

  constructor(
    private log: Logger,
    private what: string,
    private everyMs = 60_000,
    private now: () => number = Date.now,
    private settleMs = 0,
  ) {}

  /** Whether the last attempt failed. */
  get failing(): boolean {
    return this.#count > 0;
  }

  fail(err: Error): void {
    const now = this.now();
    const text = err.message;
    if (!this.#count) this.#since = now;
    this.#count++;
    this.#lastFail = now;
    if (text !== this.#text) {
      this.#text = text;
      this.#loggedAt = now;
      this.log.error(`${this.what} failed: ${text}`);
    } else if (now - this.#loggedAt >= this.everyMs || now < this.#loggedAt) { // (or the clock stepped back)
      this.#loggedAt = now;
      this.log.error(
        `${this.what} failed: ${text} (${this.#count} times since ${new Date(this.#since).toISOString()})`,
      );
    }
  }

  ok(): void {
    const quiet = this.now() - this.#lastFail; // negative: the clock stepped back, counted as settled
    if (!this.#count || (quiet >= 0 && quiet < this.settleMs)) return;
    const secs = Math.round((this.now() - this.#since) / 1000);
    this.log.info(`${this.what} works again (${this.#count} failure(s) over ${secs} s: ${this.#text})`);
    this.#count = 0;
    this.#text = "";
  }
}
