/**
 * At most `size` holders at once and at most `queue` waiting for a slot; a caller beyond both is
 * refused at once (the caller answers 503) rather than queued without bound.
 */
export class Slots {
  #busy = 0;
  #waiting: Array<() => void> = [];

  constructor(readonly size: number, readonly queue: number) {}

  get busy(): number {
    return this.#busy;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** A slot's release function once one is free, or null at once when slots and queue are full. */
  acquire(): Promise<() => void> | null {
    if (this.#busy < this.size) {
      this.#busy++;
      return Promise.resolve(this.#release());
    }
    if (this.#waiting.length >= this.queue) return null;
    // the slot passes straight from the releasing holder to the first waiter (busy unchanged)
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#release())));
  }

  #release(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy--;
    };
  }
}
