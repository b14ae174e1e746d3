/**
 * `graphite.forward_to`: a copy of every received point to an external Graphite (carbon) as
 * plaintext over TCP, batched per flush, reconnecting after errors. Memory is bounded: beyond
 * `maxQueued` lines the oldest are dropped and counted.
 *
 * ```ts
 * const relay = new GraphiteRelay("carbon.example:2003", log);
 * relay.point("web1.load", 0.5, 1700000000);
 * await relay.flush();
 * ```
 */
import type { Logger } from "../log/mod.ts";
import { hostPort } from "../host_port.ts";

const encoder = new TextEncoder();

export class GraphiteRelay {
  readonly host: string;
  readonly port: number;
  sent = 0;
  dropped = 0;
  errors = 0;
  #queue: string[] = [];
  #conn: Deno.TcpConn | null = null;
  /** The flush in progress. */
  #current: Promise<void> | null = null;

  constructor(
    target: string,
    readonly log: Logger,
    readonly maxQueued = 500_000,
    /** A connect, or a write that makes no progress, this long is given up (carbon not reading). */
    readonly stallMs = 30_000,
  ) {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(target.trim());
    if (!m || Number(m[2]) > 65535) throw new Error(`graphite.forward_to: '${target}' is not host:port`);
    this.host = m[1];
    this.port = Number(m[2]);
  }

  point(name: string, value: number, ts: number): void {
    this.#queue.push(`${name} ${value} ${ts}\n`);
    if (this.#queue.length > this.maxQueued) {
      const over = this.#queue.length - this.maxQueued;
      this.#queue.splice(0, over);
      this.dropped += over;
    }
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** A write is in progress (what it carries comes back to `waiting` if it fails). */
  get sending(): boolean {
    return this.#current !== null;
  }

  /**
   * Sends what is queued (one write per call); on error keeps it for the next flush. A flush in
   * progress is waited for instead (what was queued meanwhile waits for the next one).
   */
  flush(): Promise<void> {
    if (this.#current) return this.#current;
    if (this.#queue.length === 0) return Promise.resolve();
    this.#current = this.#flush().finally(() => this.#current = null);
    return this.#current;
  }

  /** At stop: waits for a flush in progress, then sends what was queued meanwhile. */
  async drain(): Promise<void> {
    await this.flush();
    await this.flush();
  }

  async #flush(): Promise<void> {
    const lines = this.#queue;
    this.#queue = [];
    // without a deadline a carbon that stops reading (or a connect that never completes) kept the
    // relay busy for good: every later flush returned at once and the queue only dropped
    let stalled = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (what: string, onStall: () => void) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = `${what} stalled for ${this.stallMs} ms`;
        onStall();
      }, this.stallMs);
    };
    try {
      if (!this.#conn) {
        const attempt = Deno.connect({ hostname: this.host, port: this.port });
        const late = new Promise<null>((r) => arm("connect", () => r(null)));
        const conn = await Promise.race([attempt, late]);
        if (!conn) {
          attempt.then((c) => c.close(), () => {});
          throw new Error(stalled);
        }
        this.#conn = conn;
      }
      const conn = this.#conn;
      const bytes = encoder.encode(lines.join(""));
      let off = 0;
      while (off < bytes.length) {
        arm("write", () => conn.close());
        off += await conn.write(bytes.subarray(off));
      }
      this.sent += lines.length;
    } catch (err) {
      this.errors++;
      this.log.warn(
        `graphite.forward_to ${hostPort(this.host, this.port)}: ${stalled || (err as Error).message}`,
      );
      try {
        this.#conn?.close();
      } catch { /* already closed */ }
      this.#conn = null;
      this.#queue = lines.concat(this.#queue);
      if (this.#queue.length > this.maxQueued) {
        const over = this.#queue.length - this.maxQueued;
        this.#queue.splice(0, over);
        this.dropped += over;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.#conn = null;
  }
}
