/**
 * KV peer messages in-process, on the test's clock: every node attaches its serving function,
 * messages take `delayMs` each way, a killed node refuses at once, a partition swallows messages
 * (the caller gives up at its deadline). Bodies and answers go through JSON like on the wire, so
 * a KV cluster runs on a VirtualClock deterministically: partitions, kills and heals in tests.
 *
 * ```ts
 * const net = new SimKvNetwork({ clock });
 * const transport = net.attach(uuid, serve);
 * net.partition([[a, b], [c]]); ... net.heal();
 * ```
 */
import type { Clock } from "../clock/mod.ts";
import type { RingNode } from "./ring.ts";
import { type KvMessage, type KvServe, type KvTransport, PeerRefused, PeerUnreachable } from "./transport.ts";

export interface SimKvOptions {
  clock: Clock;
  /** One-way delay of every message (default 1 ms). */
  delayMs?: number;
}

/** Counters of the simulated network. */
export interface SimKvStats {
  sent: number;
  delivered: number;
  /** Swallowed by a partition. */
  cut: number;
  refused: number;
}

export class SimKvNetwork {
  readonly stats: SimKvStats = { sent: 0, delivered: 0, cut: 0, refused: 0 };
  #clock: Clock;
  #delay: number;
  #nodes = new Map<string, KvServe>();
  /** uuid -> group number while partitioned (absent: the majority side, group 0). */
  #groups = new Map<string, number>();

  constructor(opts: SimKvOptions) {
    this.#clock = opts.clock;
    this.#delay = opts.delayMs ?? 1;
  }

  /** Registers (or re-registers after a restart) node `uuid`; returns its transport. */
  attach(uuid: string, serve: KvServe): KvTransport {
    this.#nodes.set(uuid, serve);
    return {
      call: (peer, kind, body, deadline, signal) => this.#call(uuid, peer, kind, body, deadline, signal),
    };
  }

  /** The node is down: messages to it are refused. */
  kill(uuid: string): void {
    this.#nodes.delete(uuid);
  }

  /** Cuts the network into groups; nodes not listed stay in the first group. */
  partition(groups: string[][]): void {
    this.#groups.clear();
    groups.forEach((g, i) => g.forEach((u) => this.#groups.set(u, i)));
  }

  heal(): void {
    this.#groups.clear();
  }

  #linked(a: string, b: string): boolean {
    return (this.#groups.get(a) ?? 0) === (this.#groups.get(b) ?? 0);
  }

  #call(
    from: string,
    peer: RingNode,
    kind: KvMessage,
    body: unknown,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<unknown> {
    this.stats.sent++;
    const wire = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => finish(() => reject(new PeerUnreachable(peer, "request cancelled")));
      signal?.addEventListener("abort", onAbort, { once: true });
      const ms = Math.max(1, deadline - this.#clock.now());
      const timer = this.#clock.setTimeout(
        () => finish(() => reject(new PeerUnreachable(peer, `no answer within ${Math.round(ms)} ms`))),
        ms,
      );
      this.#clock.setTimeout(() => {
        if (done) return;
        if (!this.#linked(from, peer.uuid)) return void this.stats.cut++;
        const serve = this.#nodes.get(peer.uuid);
        if (!serve) {
          this.stats.refused++;
          return finish(() => reject(new PeerUnreachable(peer, "connection refused", true)));
        }
        this.stats.delivered++;
        serve(kind, JSON.parse(wire), signal).then(
          (answer) =>
            this.#reply(from, peer, () => resolve(JSON.parse(JSON.stringify(answer ?? null))), finish),
          (err: Error & { status?: number }) =>
            this.#reply(
              from,
              peer,
              () => reject(new PeerRefused(peer, err.status ?? 500, { error: err.message })),
              finish,
            ),
        );
      }, this.#delay);
    });
  }

  /** The answer travels back unless the link was cut meanwhile (then the caller times out). */
  #reply(from: string, peer: RingNode, deliver: () => void, finish: (fn: () => void) => void): void {
    this.#clock.setTimeout(() => {
      if (!this.#linked(from, peer.uuid) || !this.#nodes.has(peer.uuid)) return void this.stats.cut++;
      finish(deliver);
    }, this.#delay);
  }
}
