/**
 * Typed HTTP client for the agent API: over the unix socket (default, trusted) or TCP with an
 * optional bearer token. The CLI uses only this and lib/config.
 *
 * ```ts
 * const c = new AgentClient({ socket: "/var/lib/kunai/kunai.sock" });
 * const info = await c.json<Record<string, unknown>>("GET", "/agent/info");
 * ```
 */

export interface ClientOptions {
  /** Unix socket path (preferred). */
  socket?: string;
  /** `http://host:port` base URL when no socket is used. */
  baseUrl?: string;
  token?: string;
  /** Per-request timeout in ms (default 10 s). */
  timeoutMs?: number;
  /** Told of each request once answered or failed (`kunai -v`): method, path, status or error, ms. */
  trace?: (line: string) => void;
}

/** No agent answered (socket missing, connection refused, timeout). */
export class AgentUnreachable extends Error {
  constructor(readonly target: string, reason: string) {
    super(`cannot reach the kunai agent at ${target}: ${reason}`);
    this.name = "AgentUnreachable";
  }
}

/** The agent answered with an error status. */
export class AgentHttpError extends Error {
  constructor(readonly status: number, readonly body: string, readonly detail?: unknown) {
    super(`agent answered ${status}: ${body}`);
    this.name = "AgentHttpError";
  }
}

export class AgentClient {
  readonly target: string;
  #opts: ClientOptions;
  #client: Deno.HttpClient | null = null;

  constructor(opts: ClientOptions) {
    this.#opts = opts;
    this.target = opts.socket ? `unix:${opts.socket}` : (opts.baseUrl ?? "http://127.0.0.1:6768");
    if (opts.socket) {
      this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path: opts.socket } });
    }
  }

  /**
   * Sends a request; throws AgentUnreachable when nothing answers (within `timeoutMs`, default the
   * client's). With `stream`, the time limit ends with the answer's headers: its body (a log
   * stream) may last for good.
   */
  async request(
    method: string,
    path: string,
    body?: BodyInit | null,
    headers: Record<string, string> = {},
    timeoutMs = this.#opts.timeoutMs ?? 10_000,
    stream = false,
  ): Promise<Response> {
    const base = this.#opts.socket ? "http://kunai" : (this.#opts.baseUrl ?? "http://127.0.0.1:6768");
    const h: Record<string, string> = { ...headers };
    if (this.#opts.token) h.authorization = `Bearer ${this.#opts.token}`;
    let headersTimer: ReturnType<typeof setTimeout> | undefined;
    let signal: AbortSignal;
    if (stream) {
      const ac = new AbortController();
      headersTimer = setTimeout(() => ac.abort(new DOMException("timed out", "TimeoutError")), timeoutMs);
      signal = ac.signal;
    } else signal = AbortSignal.timeout(timeoutMs);
    try {
      const init: RequestInit & { client?: Deno.HttpClient } = {
        method,
        headers: h,
        body: body ?? undefined,
        signal,
      };
      if (this.#client) init.client = this.#client;
      const t0 = performance.now();
      const res = await fetch(base + path, init);
      this.#opts.trace?.(`${method} ${path} -> ${res.status} (${Math.round(performance.now() - t0)} ms)`);
      return res;
    } catch (err) {
      this.#opts.trace?.(`${method} ${path} -> ${(err as Error).message}`);
      if (signal.aborted && signal.reason instanceof DOMException && signal.reason.name === "TimeoutError") {
        throw new AgentUnreachable(this.target, `no answer within ${timeoutMs} ms`);
      }
      const e = err as Error;
      let reason = e.message;
      const cause = (e as { cause?: unknown }).cause;
      if (cause instanceof Error) reason = cause.message;
      if (this.#opts.socket) {
        try {
          Deno.statSync(this.#opts.socket);
        } catch {
          reason = "ENOENT";
        }
      }
      if (e.name === "TimeoutError") reason = `no answer within ${timeoutMs} ms`;
      else if (/No such file|ENOENT|os error 2\b/.test(reason)) {
        reason = "the socket does not exist (is the agent running?)";
      } else if (/refused|os error 111/i.test(reason)) reason = "connection refused (is the agent running?)";
      throw new AgentUnreachable(this.target, reason);
    } finally {
      clearTimeout(headersTimer);
    }
  }

  /** Sends a request and parses a JSON answer; throws AgentHttpError on a 4xx/5xx. */
  async json<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    return (await this.jsonWithHeaders<T>(method, path, body, timeoutMs)).value;
  }

  /** The same, with the answer's headers (some routes say more there than their body's shape allows). */
  async jsonWithHeaders<T>(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs?: number,
  ): Promise<{ value: T; headers: Headers }> {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const res = await this.request(
      method,
      path,
      payload,
      payload ? { "content-type": "application/json" } : {},
      timeoutMs,
    );
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, text);
    try {
      return { value: JSON.parse(text) as T, headers: res.headers };
    } catch {
      throw new AgentHttpError(res.status, `expected JSON, got: ${text.slice(0, 200)}`);
    }
  }

  /** Sends a request and returns the text body; throws AgentHttpError on a 4xx/5xx. */
  async text(method: string, path: string, body?: BodyInit): Promise<string> {
    const res = await this.request(method, path, body);
    const text = await res.text();
    if (!res.ok) throw errorFrom(res.status, text);
    return text;
  }

  close(): void {
    this.#client?.close();
    this.#client = null;
  }
}

function errorFrom(status: number, text: string): AgentHttpError {
  try {
    const j = JSON.parse(text);
    if (j && typeof j === "object" && "error" in j) {
      return new AgentHttpError(status, String(j.error), j.detail);
    }
  } catch { /* not JSON */ }
  return new AgentHttpError(status, text || `HTTP ${status}`);
}
