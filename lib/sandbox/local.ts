/**
 * The broker of a Worker spec answered in the calling thread: LocalBroker (file operations under the
 * spec's policy) and InlineMethods (a Worker's method table served here, its files through one).
 *
 * ```ts
 * const m = new InlineMethods(spec, (broker) => ({ load: () => broker.op({ op: "read", path: "/proc/loadavg" }) }));
 * await m.call("load");
 * ```
 */
import type { BrokerRequest } from "./protocol.ts";
import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { type BrokerPolicy, denied, fileOp, KeptFiles, refusal } from "./broker.ts";
import type { WorkerSpec } from "./mod.ts";

/**
 * The read broker of a spec without its Worker: the same allow/deny/world-readable policy, the
 * same refusals (`BrokerDenied`) and log lines, answered in the calling thread. For work that is
 * only file access (a stat, a bounded chunk read), so no isolate is started for it.
 */
export class LocalBroker {
  /** Requests refused, for info and tests. */
  deniedReads = 0;
  readonly #name: string;
  readonly #policy: BrokerPolicy;
  readonly #log: Logger;
  /** In-memory files read through handles kept open (a Worker's broker: see KeptFiles), else none. */
  readonly #kept: KeptFiles | undefined;

  constructor(
    spec: Omit<WorkerSpec, "module" | "permissions">,
    log: Logger = silentLogger,
    keepOpen = false,
  ) {
    this.#kept = keepOpen ? new KeptFiles() : undefined;
    this.#name = spec.name;
    this.#log = log;
    this.#policy = {
      allow: spec.brokerAllow ?? [],
      statfsAllow: spec.statfsAllow ?? [],
      deny: spec.brokerDeny ?? [],
      worldReadable: spec.brokerWorldReadable ?? false,
    };
  }

  /** One file operation, if the policy allows it. */
  async op(msg: Pick<BrokerRequest, "op" | "path" | "offset" | "max">): Promise<unknown> {
    const why = await refusal(this.#policy, msg.op, msg.path);
    if (why) {
      this.deniedReads++;
      this.#log.warn(`${this.#name}: broker refused ${msg.op} of ${String(msg.path)} (${why})`);
      throw denied(`${msg.op} of ${String(msg.path)} is not allowed for this worker: ${why}`);
    }
    return await fileOp(msg, this.#kept);
  }

  /** Files it holds open (0 unless `keepOpen`). */
  get keptFiles(): number {
    return this.#kept?.size ?? 0;
  }

  /** Closes the files it holds open (opened again by the next reads, unless `forGood`). */
  closeFiles(forGood = false): void {
    this.#kept?.close(forGood);
  }
}

/**
 * What a caller needs of a Worker: SandboxWorker, or InlineMethods (the same calls answered in this
 * thread).
 */
export interface MethodServer {
  readonly spec: { readonly name: string };
  /** True while it answers calls (a Worker: while its isolate runs). */
  readonly running: boolean;
  /** Broker requests refused. */
  readonly deniedReads: number;
  call<T = unknown>(method: string, params?: unknown, timeoutMs?: number): Promise<T>;
  terminate(): void;
}

/** Methods of InlineMethods, made once over the spec's broker. */
export type InlineHandlers = Record<string, (params: never) => unknown | Promise<unknown>>;

/**
 * A Worker's method table served in the calling thread, for the agent's own code that only parses
 * what the broker hands it (the linux collectors): no isolate (~10 MB), no message copies, and the
 * same file policy as the Worker — every read goes through the spec's LocalBroker (allow/deny
 * lists, `BrokerDenied` refusals, kept handles of in-memory files). What it cannot give is a
 * Worker's containment: a call cannot be killed, so only code that does not run user input belongs
 * here; `timeoutMs` is not enforced (callers race their own deadline).
 */
export class InlineMethods implements MethodServer {
  readonly spec: { readonly name: string };
  readonly #broker: LocalBroker;
  readonly #handlers: InlineHandlers;
  #closed = false;
  /** Calls answered, for tests. */
  calls = 0;

  constructor(
    spec: Omit<WorkerSpec, "module" | "permissions">,
    make: (broker: LocalBroker) => InlineHandlers,
    log: Logger = silentLogger,
  ) {
    this.spec = { name: spec.name };
    this.#broker = new LocalBroker(spec, log, true);
    this.#handlers = make(this.#broker);
  }

  get running(): boolean {
    return !this.#closed;
  }

  get deniedReads(): number {
    return this.#broker.deniedReads;
  }

  get keptFiles(): number {
    return this.#broker.keptFiles;
  }

  async call<T = unknown>(method: string, params: unknown = {}, _timeoutMs?: number): Promise<T> {
    if (this.#closed) throw new Error(`${this.spec.name}: stopped`);
    const h = this.#handlers[method];
    if (!h) throw new Error(`${this.spec.name}: unknown method ${method}`);
    this.calls++;
    return await h(params as never) as T;
  }

  terminate(): void {
    this.#closed = true;
    this.#broker.closeFiles(true);
  }
}
