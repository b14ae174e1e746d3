/**
 * The server side of a WebSocket (RFC 6455, binary messages) spoken by the TCP front itself on a
 * client connection, for a peer route that declared a socket handler (`RouteTable.socket`, e.g.
 * the KV peer stream): each frame is parsed here and handed to the route, its answers framed and
 * written here, without the hop through the private server (a write to the unix socket, hyper's
 * upgrade and Deno's WebSocket, then the answer's way back through the front's pump: per frame,
 * two socket writes and two reads saved).
 *
 * Only what a kunai peer sends is accepted: masked client frames (RFC 6455 §5.1), binary or
 * continuation frames, ping, pong and close. A text frame closes with 1003, a message over the
 * route's bound with 1009 (checked on the frame header, before its payload is buffered), any
 * protocol error with 1002. A client that pings without reading gets one pong queued at a time (the
 * latest ping's: RFC 6455 §5.5.3), and each queued frame counts FRAME_COST bytes more in the backlog
 * than its bytes, so tiny frames cannot hold memory the backlog's bound does not see. At most
 * SOCKET_MAX_INFLIGHT messages are with the route at once (every frame was served at once: 15 frames
 * in one read, each asking megabytes of answer): the ones after wait, and the front reads nothing
 * more from the client until one is answered (`busy`, `ready`).
 */
import { type FastSocketPeer, type FastSocketRoute, SOCKET_MAX_INFLIGHT } from "../routing/mod.ts";
import { concatBytes } from "../bytes.ts";
import type { PeerEnvelope } from "../transport/mod.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
/** What a queued frame costs beyond its bytes (its arrays' headers), counted in the backlog. */
export const FRAME_COST = 64;

/** `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** The header of an unmasked server frame carrying `len` payload bytes (FIN, opcode `op`). */
export function serverFrameHeader(op: number, len: number): Uint8Array {
  if (len < 126) return Uint8Array.of(0x80 | op, len);
  if (len < 65536) return Uint8Array.of(0x80 | op, 126, len >> 8, len & 255);
  const h = new Uint8Array(10);
  h[0] = 0x80 | op;
  h[1] = 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(len));
  return h;
}

/** One connection in socket mode: `feed` it the client's bytes; answers go through `write`. */
export class WsFrontConn implements FastSocketPeer {
  /** Bytes of an incomplete frame (copies), and how many the frame needs in all once known. */
  #tail: Uint8Array[] = [];
  #tailLen = 0;
  #need = 0;
  #parts: Uint8Array[] = [];
  #partsLen = 0;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  /** The pong to the latest ping, not yet written (one at a time, whatever the client sends). */
  #pong: Uint8Array | null = null;
  #messages = 0;
  /** When the message not yet complete (a frame's first bytes, or its first fragment) began; -1: none. */
  #startedAt = -1;
  #writing = false;
  #drained: Array<() => void> = [];
  #ended = false;
  /** Messages with the route, not yet settled; complete messages waiting for one of them to settle. */
  #inflight = 0;
  #held: Uint8Array[] = [];
  #ready: Array<() => void> = [];
  readonly #settled = () => this.#done();
  readonly #onMessage: (msg: Uint8Array) => void | Promise<void>;

  constructor(
    route: FastSocketRoute,
    envelope: PeerEnvelope | undefined,
    /** Writes all of `bytes` to the client (rejects when the connection is gone). */
    private readonly write: (bytes: Uint8Array) => Promise<void>,
    /** Called once when the connection must end (after a close frame, when one is due). */
    private readonly end: () => void,
    private readonly maxMessage = route.maxMessage,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.#onMessage = route.open(this, envelope);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Messages received so far (pings and pongs are not messages). */
  get messages(): number {
    return this.#messages;
  }

  /**
   * When the message still incomplete began (its first bytes arrived), or -1: the front closes a
   * client that starts a message and does not finish it (a byte an hour of a frame announcing 8 MB).
   */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** Answer bytes queued but not yet written to the client. */
  get backlog(): number {
    return this.#outBytes;
  }

  /** True while SOCKET_MAX_INFLIGHT messages are with the route: read nothing more from the client. */
  get busy(): boolean {
    return this.#inflight >= SOCKET_MAX_INFLIGHT && !this.#ended;
  }

  /** Resolves once the route has room for a message again (or the connection ended). */
  ready(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.#ready.push(resolve));
  }

  /** Resolves once the queued answers are written (or the connection ended). */
  drained(): Promise<void> {
    if (!this.#outBytes || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** Queues one binary message; messages queued in one event-loop turn leave in one write. */
  send(payload: Uint8Array): void {
    this.#queue(serverFrameHeader(2, payload.length), payload);
  }

  /** Sends a close frame (`code`, `reason`) and ends the connection once it is written. */
  close(code: number, reason: string): void {
    if (this.#ended) return;
    const why = encoder.encode(reason).subarray(0, 123);
    const body = new Uint8Array(2 + why.length);
    body[0] = code >> 8;
    body[1] = code & 255;
    body.set(why, 2);
    this.#queue(serverFrameHeader(8, body.length), body);
    this.#stop();
    if (!this.#writing) this.end();
  }

  /** The connection is gone (dropped by the front): held messages are not served, nothing waits. */
  abort(): void {
    this.#stop();
    this.#out = [];
    this.#pong = null;
  }

  #stop(): void {
    this.#ended = true;
    this.#held = [];
    for (const resolve of this.#ready.splice(0)) resolve();
  }

  /** Parses the frames complete in `bytes` (after what was left over); false once the connection ended. */
  feed(bytes: Uint8Array): boolean {
    if (this.#ended) return false;
    const before = this.#messages;
    let buf = bytes;
    if (this.#tail.length) {
      // `bytes` is the reader's buffer, reused: keep a copy; join only once the frame is complete
      this.#tail.push(bytes.slice());
      this.#tailLen += bytes.length;
      if (this.#tailLen < this.#need) return true;
      buf = concatBytes(this.#tail);
      this.#tail = [];
      this.#tailLen = 0;
    }
    let off = 0;
    let need = 2; // bytes the next frame needs from `off`, once known
    while (buf.length - off >= 2 && !this.#ended) {
      const b0 = buf[off], b1 = buf[off + 1];
      const op = b0 & 0x0f;
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) === 0) {
        this.close(1002, "protocol error: reserved bits or an unmasked client frame");
        break;
      }
      let len = b1 & 0x7f;
      let p = off + 2;
      if (len === 126) {
        need = 4;
        if (buf.length - p < 2) break;
        len = (buf[p] << 8) | buf[p + 1];
        p += 2;
      } else if (len === 127) {
        need = 10;
        if (buf.length - p < 8) break;
        const big = new DataView(buf.buffer, buf.byteOffset + p, 8).getBigUint64(0);
        if (big > BigInt(this.maxMessage)) {
          this.close(1009, `frame larger than ${this.maxMessage} bytes`);
          break;
        }
        len = Number(big);
        p += 8;
      }
      if (op >= 8 && len > 125) {
        this.close(1002, "protocol error: control frame over 125 bytes");
        break;
      }
      if (op < 8 && this.#partsLen + len > this.maxMessage) {
        this.close(1009, `frame larger than ${this.maxMessage} bytes`);
        break;
      }
      need = p - off + 4 + len;
      if (buf.length - off < need) break;
      const mask = buf.subarray(p, p + 4);
      p += 4;
      const payload = buf.slice(p, p + len);
      if (mask[0] | mask[1] | mask[2] | mask[3]) {
        for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      }
      off = p + len;
      need = 2;
      this.#frame(b0, op, payload);
    }
    if (!this.#ended && off < buf.length) {
      this.#tail = [buf.slice(off)];
      this.#tailLen = buf.length - off;
      this.#need = need;
    }
    if (!this.#tail.length && !this.#parts.length) this.#startedAt = -1;
    else if (this.#startedAt < 0 || this.#messages !== before) this.#startedAt = this.now();
    return !this.#ended;
  }

  #frame(b0: number, op: number, payload: Uint8Array): void {
    if (op === 8) {
      // the peer closes: answer with its code (or 1000) and end
      const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1000;
      return this.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, "");
    }
    if (op === 9) {
      if (this.#ended) return;
      if (this.#pong) this.#outBytes -= this.#pong.length + FRAME_COST;
      this.#pong = concatBytes([serverFrameHeader(10, payload.length), payload]);
      this.#outBytes += this.#pong.length + FRAME_COST;
      if (!this.#writing) void this.#flush();
      return;
    }
    if (op === 10) return;
    if (op === 1) return this.close(1003, "binary frames only");
    if (op !== 2 && op !== 0) return this.close(1002, `protocol error: opcode ${op}`);
    if ((op === 2) === (this.#parts.length > 0)) {
      return this.close(1002, "protocol error: bad continuation");
    }
    if (b0 & 0x80) {
      const msg = this.#parts.length ? concatBytes([...this.#parts, payload]) : payload;
      this.#parts = [];
      this.#partsLen = 0;
      this.#messages++;
      if (this.#inflight >= SOCKET_MAX_INFLIGHT) this.#held.push(msg);
      else this.#handle(msg);
      return;
    }
    this.#parts.push(payload);
    // each fragment counts FRAME_COST more than its bytes: a million empty continuation frames
    // would hold ~150 MB of arrays within the message-size limit
    this.#partsLen += payload.length + FRAME_COST;
    if (this.#partsLen > this.maxMessage) this.close(1009, `message larger than ${this.maxMessage} bytes`);
  }

  #handle(msg: Uint8Array): void {
    const p = this.#onMessage(msg);
    if (!p) return;
    this.#inflight++;
    p.then(this.#settled, this.#settled);
  }

  /** A message settled: the next held one goes to the route; a front waiting to read goes on. */
  #done(): void {
    this.#inflight--;
    while (this.#held.length && this.#inflight < SOCKET_MAX_INFLIGHT && !this.#ended) {
      this.#handle(this.#held.shift()!);
    }
    if (this.busy) return;
    for (const resolve of this.#ready.splice(0)) resolve();
  }

  #queue(head: Uint8Array, payload: Uint8Array): void {
    if (this.#ended) return;
    this.#out.push(head, payload);
    this.#outBytes += head.length + payload.length + FRAME_COST;
    if (!this.#writing) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    // the rest of this turn's answers join: one write for all of them
    await Promise.resolve();
    try {
      while (this.#out.length || this.#pong) {
        const parts = this.#out.splice(0);
        const frames = parts.length / 2;
        if (this.#pong) parts.push(this.#pong);
        const pong = this.#pong ? 1 : 0;
        this.#pong = null;
        const buf = concatBytes(parts);
        await this.write(buf);
        this.#outBytes -= buf.length + (frames + pong) * FRAME_COST;
      }
    } catch {
      this.abort(); // the connection is gone: the front drops it
    } finally {
      this.#writing = false;
      if (!this.#out.length && !this.#pong) this.#outBytes = 0;
      for (const resolve of this.#drained.splice(0)) resolve();
    }
    if (this.#ended) this.end();
  }
}
