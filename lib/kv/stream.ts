/**
 * The hot KV peer messages (`writes`, `apply`, `reads`) over one persistent WebSocket per peer
 * instead of one HTTP request each: a request/answer over fetch() costs ~0.3 ms of CPU across the
 * two agents (client request, the TCP front, Deno.serve, the router), a frame on an open socket a
 * small part of that, and at 16 clients every replicated write needs about one message.
 *
 * The socket is the peer route `GET /kv-internal/stream` (declared in the route table like the
 * others). Every frame, both ways, is sealed on its own by the agent's PeerEnvelope (keyring
 * AES-GCM, send time and nonce), so a frame that is unauthenticated, stale or replayed is refused
 * (counted by the envelope) and the socket closed, exactly as the HTTP route answers 401. A request
 * frame is `{i: id, k: kind, b: body}`, its answer `{i, s: status, b: answer | {error}}`; answers
 * come back in any order.
 *
 * Blocking reads, listings and anti-entropy pulls stay on HTTP (they wait, stream or get
 * cancelled). When a peer's socket cannot be opened (an older agent without the route, or the
 * peer is down) the call goes over HTTP instead, which also gives the precise error, and the
 * socket is retried a few seconds later.
 */
import type { Clock } from "../clock/mod.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type FastSocketPeer, HttpError, SOCKET_MAX_INFLIGHT } from "../routing/mod.ts";
import { HttpKvTransport, MAX_CALL_MS } from "./http_transport.ts";
import { KvError } from "./keys.ts";
import type { RingNode } from "./ring.ts";
import { MAX_MESSAGE, WsClient } from "./ws_client.ts";
import { type KvMessage, type KvServe, type KvTransport, PeerRefused, PeerUnreachable } from "./transport.ts";

/** The messages that travel on the socket. */
export const STREAM_KINDS: ReadonlySet<KvMessage> = new Set<KvMessage>(["writes", "apply", "reads"]);
export const STREAM_PATH = "/kv-internal/stream";
/**
 * Bytes of messages waiting for one in flight to settle, on Deno's socket (which cannot stop reading);
 * each counts 64 bytes more than its own (its array's header).
 */
const HELD_MAX_BYTES = 16 * 1024 * 1024;
/** After a socket could not be opened, HTTP only for this long before trying again. */
const RETRY_MS = 3000;

/** Largest answer sent on a peer socket: what its reader accepts, less the envelope's overhead. */
const MAX_ANSWER = MAX_MESSAGE - 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Waiting {
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** performance.now() when sent, and when the call gives up. */
  sent: number;
  until: number;
  ms: number;
}

/** One open (or opening) socket to a peer, with its calls waiting for answers. */
class PeerSocket {
  readonly ws: WsClient;
  opened = false;
  closed = false;
  #next = 1;
  #waiting = new Map<number, Waiting>();
  #lastAnswer = 0;
  /**
   * One timer for all the calls in flight, armed for the earliest deadline (a timer per call was
   * ~4 % of a KV agent's CPU under a write load: Node's Timeout object, the timer heap, the clear).
   */
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerAt = Infinity;

  constructor(readonly peer: RingNode, private env: PeerEnvelope, private onEnd: (s: PeerSocket) => void) {
    this.ws = new WsClient(peer.addr, peer.port, STREAM_PATH, {
      open: () => this.opened = true,
      message: (b) => void this.#answer(b),
      close: (reason, code) => this.#end(reason, code),
    });
  }

  get size(): number {
    return this.#waiting.size;
  }

  async call(kind: KvMessage, body: unknown, ms: number): Promise<unknown> {
    const id = this.#next++;
    const frame = await this.env.seal(encoder.encode(JSON.stringify({ i: id, k: kind, b: body })));
    if (this.closed) throw new PeerUnreachable(this.peer, "connection lost", true);
    return await new Promise((resolve, reject) => {
      const sent = performance.now();
      this.#waiting.set(id, { resolve, reject, sent, until: sent + ms, ms });
      if (sent + ms < this.#timerAt) this.#arm(sent + ms);
      this.ws.send(frame); // queued until the socket is open
    });
  }

  #arm(at: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, at - performance.now()));
  }

  /** Fails the calls past their deadline; re-arms for the earliest one left. */
  #expire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    let silent = false;
    for (const [id, w] of this.#waiting) {
      if (w.until > now) {
        next = Math.min(next, w.until);
        continue;
      }
      this.#waiting.delete(id);
      w.reject(new PeerUnreachable(this.peer, `no answer within ${Math.round(w.ms)} ms`));
      // nothing at all came back meanwhile: a half-open connection (peer gone without a reset)
      if (this.#lastAnswer < w.sent) silent = true;
    }
    // the next call opens a new connection
    if (silent) return this.close("no answer on this connection");
    if (next < Infinity) this.#arm(next);
  }

  async #answer(wire: Uint8Array): Promise<void> {
    this.#lastAnswer = performance.now();
    const opened = await this.env.open(wire);
    if (!opened.ok) return this.close(`answer refused: ${opened.reason}`);
    let msg: { i?: unknown; s?: unknown; b?: unknown };
    try {
      msg = JSON.parse(decoder.decode(opened.plain));
    } catch {
      return this.close("answer is not JSON");
    }
    const w = typeof msg.i === "number" ? this.#waiting.get(msg.i) : undefined;
    if (!w) return; // timed out meanwhile
    this.#waiting.delete(msg.i as number);
    if (msg.s === 200) w.resolve(msg.b ?? null);
    else w.reject(new PeerRefused(this.peer, typeof msg.s === "number" ? msg.s : 502, msg.b ?? null));
  }

  /** Closes the socket; every waiting call fails as unreachable. */
  close(reason: string): void {
    this.ws.close(reason);
  }

  #end(reason: string, code?: number): void {
    if (this.closed) return;
    this.closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const w of this.#waiting.values()) {
      // 1008: the peer refused a frame (unauthenticated, stale, replayed): a refusal, like HTTP's 401
      w.reject(
        code === 1008
          ? new PeerRefused(this.peer, 401, { error: reason.replace(/^closed by the peer: /, "") })
          : new PeerUnreachable(this.peer, reason),
      );
    }
    this.#waiting.clear();
    this.onEnd(this);
  }
}

/** KvTransport: the hot kinds on a socket per peer, the rest (and fallbacks) over HTTP. */
export class StreamKvTransport implements KvTransport {
  #env: PeerEnvelope;
  #clock: Clock;
  #http: HttpKvTransport;
  #sockets = new Map<string, PeerSocket>();
  /** Peer uuid -> time (performance.now) before which we do not try a socket again. */
  #httpOnly = new Map<string, number>();
  #frames = 0;

  constructor(envelope: PeerEnvelope, clock: Clock) {
    this.#env = envelope;
    this.#clock = clock;
    this.#http = new HttpKvTransport(envelope, clock);
  }

  /** Calls answered on a socket (for tests and info). */
  get frames(): number {
    return this.#frames;
  }

  async call(
    peer: RingNode,
    kind: KvMessage,
    body: unknown,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<unknown> {
    let until = this.#httpOnly.get(peer.uuid);
    if (until !== undefined && performance.now() >= until) {
      this.#httpOnly.delete(peer.uuid); // its pause is over (and peers that left leave no entry)
      until = undefined;
    }
    if (signal || !STREAM_KINDS.has(kind) || (until !== undefined && performance.now() < until)) {
      return await this.#http.call(peer, kind, body, deadline, signal);
    }
    const key = `${peer.uuid}@${peer.addr}:${peer.port}`;
    let s = this.#sockets.get(key);
    if (!s || s.closed) {
      s = new PeerSocket(peer, this.#env, (gone) => {
        if (this.#sockets.get(key) === gone) this.#sockets.delete(key);
      });
      this.#sockets.set(key, s);
    }
    // (the deadline is the wire's, on the wall clock: a step back must not stretch our wait by the step)
    const ms = Math.max(1, Math.min(deadline - this.#clock.now(), MAX_CALL_MS));
    try {
      const out = await s.call(kind, body, ms);
      this.#frames++;
      return out;
    } catch (err) {
      // never opened: HTTP gives the real answer (or the precise error); sockets wait a while
      if (err instanceof PeerUnreachable && !s.opened) {
        this.#httpOnly.set(peer.uuid, performance.now() + RETRY_MS);
        return await this.#http.call(peer, kind, body, deadline);
      }
      throw err;
    }
  }

  /** Closes every socket (stop). */
  close(): void {
    for (const s of [...this.#sockets.values()]) s.close("stopping");
    this.#sockets.clear();
  }
}

/**
 * One peer socket's session, whoever speaks the WebSocket (Deno's, or the TCP front's own): opens
 * each message with `env` (no envelope: plain frames), answers it through `serve`, seals the
 * answer. A refused or malformed message closes the socket.
 */
export function streamSession(
  serve: KvServe,
  log?: Logger,
): (peer: FastSocketPeer, env: PeerEnvelope | undefined) => (message: Uint8Array) => Promise<void> {
  return (peer, env) => async (message) => {
    let plain = message;
    if (env) {
      const r = await env.open(plain);
      if (!r.ok) return peer.close(1008, `peer message refused: ${r.reason}`);
      plain = r.plain;
    }
    let msg: { i?: unknown; k?: unknown; b?: unknown };
    try {
      msg = JSON.parse(decoder.decode(plain));
    } catch {
      return peer.close(1007, "frame is not JSON");
    }
    // `null`, a number...: refused like any bad frame (reading `.k` of null threw in this handler)
    if (msg === null || typeof msg !== "object") return peer.close(1008, "bad frame");
    const kind = msg.k as KvMessage;
    if (typeof msg.i !== "number" || !STREAM_KINDS.has(kind)) return peer.close(1008, "bad frame");
    let status = 200;
    let answer: unknown;
    try {
      answer = await serve(kind, msg.b);
    } catch (err) {
      status = err instanceof KvError ? err.status : 500;
      if (status === 500) log?.warn(`kv peer message ${kind} failed: ${(err as Error).message}`);
      answer = { error: (err as Error).message };
    }
    if (peer.ended) return;
    let plainOut: Uint8Array;
    try {
      plainOut = encoder.encode(JSON.stringify({ i: msg.i, s: status, b: answer }));
      // the asker reads at most MAX_MESSAGE (and V8 builds no string over ~512 MB: a batch of reads
      // of large values threw here, in a promise nobody awaits, and the process exited)
      if (plainOut.length > MAX_ANSWER) throw new RangeError(`${plainOut.length} bytes`);
    } catch (err) {
      const error = `answer too large for one message (${
        (err as Error).message
      }): ask for fewer items at a time`;
      plainOut = encoder.encode(JSON.stringify({ i: msg.i, s: 413, b: { error } }));
    }
    const out = env ? await env.seal(plainOut) : plainOut;
    if (!peer.ended) peer.send(out);
  };
}

/**
 * Serves the socket of a `GET /kv-internal/stream` request (already matched as a peer route) with
 * Deno's WebSocket (the TCP front serves the usual upgrade itself: `RouteTable.socket`). As on the
 * front, at most SOCKET_MAX_INFLIGHT messages are served at once; Deno's socket cannot stop reading, so
 * the ones after wait up to HELD_MAX_BYTES, and a client sending more is closed (1008).
 */
export function serveStream(
  req: Request,
  serve: KvServe,
  env: PeerEnvelope | undefined,
  maxFrameBytes: number,
  log?: Logger,
): Response {
  let upgraded: { socket: WebSocket; response: Response };
  try {
    upgraded = Deno.upgradeWebSocket(req);
  } catch (err) {
    throw new HttpError(400, `not a websocket upgrade: ${(err as Error).message}`);
  }
  const { socket, response } = upgraded;
  socket.binaryType = "arraybuffer";
  const peer: FastSocketPeer = {
    send: (b) => socket.send(b),
    close: (code, reason) => socket.close(code, reason),
    get ended() {
      return socket.readyState !== WebSocket.OPEN;
    },
  };
  const onMessage = streamSession(serve, log)(peer, env);
  let inflight = 0;
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  const settled = () => {
    inflight--;
    const next = held.shift();
    if (!next) return;
    heldBytes -= next.length + 64;
    if (!peer.ended) handle(next);
  };
  const handle = (msg: Uint8Array) => {
    inflight++;
    onMessage(msg).then(settled, settled);
  };
  socket.onmessage = (ev) => {
    if (!(ev.data instanceof ArrayBuffer)) return socket.close(1003, "binary frames only");
    // the bound of the HTTP peer routes' bodies
    if (ev.data.byteLength > maxFrameBytes) {
      return socket.close(1009, `frame larger than ${maxFrameBytes} bytes`);
    }
    const msg = new Uint8Array(ev.data);
    if (inflight < SOCKET_MAX_INFLIGHT) return handle(msg);
    heldBytes += msg.length + 64;
    if (heldBytes > HELD_MAX_BYTES) {
      held.length = 0;
      return socket.close(
        1008,
        `more than ${SOCKET_MAX_INFLIGHT} messages in flight and ${HELD_MAX_BYTES} bytes waiting`,
      );
    }
    held.push(msg);
  };
  socket.onerror = () => {};
  return response;
}
