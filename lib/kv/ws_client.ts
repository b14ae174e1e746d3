/**
 * A minimal WebSocket client (RFC 6455, binary messages) over a Deno TCP connection with
 * TCP_NODELAY: the built-in WebSocket client leaves Nagle's algorithm on, so two small frames in
 * a row wait for the peer's delayed ACK (~40 ms each time, measured: every other KV peer call).
 * Frames are masked with a zero key (the mask only protects browser-facing proxies; the payload
 * is sealed by the PeerEnvelope anyway), so sending costs no per-byte work; writes issued in one
 * event-loop turn leave in one syscall.
 */
import { concatBytes } from "../bytes.ts";
import { hostPort } from "../host_port.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Largest message read from a peer socket (the server answers 413 rather than send more). */
export const MAX_MESSAGE = 64 * 1024 * 1024;
const MAX_HEAD = 16 * 1024;
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

export interface WsHandlers {
  open(): void;
  message(payload: Uint8Array): void;
  /** Called once, whatever ended the connection (`code`: the peer's close code, when it sent one). */
  close(reason: string, code?: number): void;
}

/** The header of a client frame carrying `len` payload bytes (FIN, `op`, masked with key 0). */
export function frameHeader(op: number, len: number): Uint8Array {
  if (len < 126) return Uint8Array.of(0x80 | op, 0x80 | len, 0, 0, 0, 0);
  if (len < 65536) return Uint8Array.of(0x80 | op, 0x80 | 126, len >> 8, len & 255, 0, 0, 0, 0);
  const h = new Uint8Array(14);
  h[0] = 0x80 | op;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(len));
  return h;
}

export class WsClient {
  #conn: Deno.TcpConn | null = null;
  #ended = false;
  #out: Uint8Array[] = [];
  #writing = false;
  #h: WsHandlers;

  constructor(host: string, port: number, path: string, handlers: WsHandlers) {
    this.#h = handlers;
    void this.#run(host, port, path);
  }

  /** Queues one binary message (dropped once the connection ended). */
  send(payload: Uint8Array): void {
    this.#queue(frameHeader(2, payload.length), payload);
  }

  close(reason = ""): void {
    if (this.#ended) return;
    this.#end(reason || "closed");
  }

  #queue(...parts: Uint8Array[]): void {
    if (this.#ended) return;
    this.#out.push(...parts);
    if (!this.#writing) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    // let the rest of this turn's frames join: one write for all of them
    await Promise.resolve();
    try {
      while (this.#out.length && this.#conn && !this.#ended) {
        const buf = concatBytes(this.#out.splice(0));
        for (let w = 0; w < buf.length;) w += await this.#conn.write(buf.subarray(w));
      }
    } catch (err) {
      this.#end(`write failed: ${(err as Error).message}`);
    } finally {
      this.#writing = false;
    }
  }

  async #run(host: string, port: number, path: string): Promise<void> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: host, port });
    } catch (err) {
      return this.#end(connectReason(err as Error));
    }
    if (this.#ended) return conn.close();
    this.#conn = conn;
    conn.setNoDelay(true);
    try {
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      const hostHeader = hostPort(host, port);
      const req = `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      const bytes = encoder.encode(req);
      for (let w = 0; w < bytes.length;) w += await conn.write(bytes.subarray(w));
      let buf: Uint8Array = new Uint8Array(0);
      const chunk = new Uint8Array(64 * 1024);
      let head = -1;
      while (head < 0) {
        const n = await conn.read(chunk);
        if (n === null) return this.#end("closed during the handshake");
        buf = concatBytes([buf, chunk.subarray(0, n)]);
        head = latin1.decode(buf).indexOf("\r\n\r\n");
        if (head < 0 && buf.length > MAX_HEAD) return this.#end("handshake answer too long");
      }
      const text = latin1.decode(buf.subarray(0, head));
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      if (status !== "101") return this.#end(`handshake answered ${status ?? "garbage"}`);
      const accept = /^sec-websocket-accept:\s*(\S+)/im.exec(text)?.[1];
      if (accept !== await acceptFor(key)) return this.#end("handshake: bad Sec-WebSocket-Accept");
      buf = buf.slice(head + 4);
      if (this.#ended) return;
      this.#h.open();
      if (this.#out.length && !this.#writing) void this.#flush();
      await this.#frames(conn, buf, chunk);
    } catch (err) {
      this.#end(this.#ended ? "closed" : `connection lost: ${(err as Error).message}`);
    }
  }

  /** Reads frames until the connection ends; `buf` holds bytes already read. */
  async #frames(conn: Deno.TcpConn, buf: Uint8Array, chunk: Uint8Array): Promise<void> {
    let parts: Uint8Array[] = [];
    let partsLen = 0;
    while (!this.#ended) {
      // parse every complete frame in buf; `need`: the bytes the first incomplete one needs in all
      let off = 0;
      let need = 2;
      while (buf.length - off >= 2) {
        const b0 = buf[off], b1 = buf[off + 1];
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
          if (big > BigInt(MAX_MESSAGE)) return this.#end("frame too large");
          len = Number(big);
          p += 8;
        }
        const masked = (b1 & 0x80) !== 0;
        const mask = masked ? buf.subarray(p, p + 4) : null;
        if (masked) p += 4;
        if (buf.length < p + len) {
          need = p + len - off;
          break;
        }
        need = 2;
        const payload = buf.slice(p, p + len);
        if (mask) { for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3]; }
        off = p + len;
        const op = b0 & 0x0f;
        if (op === 8) {
          const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : undefined;
          const why = new TextDecoder().decode(payload.subarray(2));
          return this.#end(why ? `closed by the peer: ${why}` : "closed by the peer", code);
        }
        if (op === 9) {
          this.#queue(frameHeader(10, payload.length), payload);
          continue;
        }
        if (op === 10) continue;
        parts.push(payload);
        partsLen += payload.length;
        if (partsLen > MAX_MESSAGE) return this.#end("message too large");
        if (b0 & 0x80) {
          const msg = concatBytes(parts);
          parts = [];
          partsLen = 0;
          this.#h.message(msg);
          if (this.#ended) return;
        }
      }
      buf = off ? buf.subarray(off) : buf;
      // read until the next frame is whole, joining once: appending each read to what came before
      // copied a large answer once per 64 KiB read (a 40 MB answer: ~13 GB of copying)
      const got: Uint8Array[] = buf.length ? [buf] : [];
      let have = buf.length;
      do {
        const n = await conn.read(chunk);
        if (n === null) return this.#end("connection lost");
        have += n;
        // `chunk` is read into again: a copy, except the last read when the join below copies it
        got.push(have >= need && got.length ? chunk.subarray(0, n) : chunk.slice(0, n));
      } while (have < need && !this.#ended);
      buf = concatBytes(got);
    }
  }

  #end(reason: string, code?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#out = [];
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.#h.close(reason, code);
  }
}

async function acceptFor(key: string): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID)));
  return btoa(String.fromCharCode(...h));
}

function connectReason(e: Error): string {
  const msg = `${e.message}`;
  if (e instanceof Deno.errors.ConnectionRefused || /refused|os error 111/i.test(msg)) {
    return "connection refused";
  }
  return msg.split("\n")[0].slice(0, 200);
}
