/**
 * One HTTP/1.1 POST over a fresh `Deno.connect` socket, for the push-pull exchange: the request
 * with a `Content-Length` body (written in one piece, so that the agent's TCP front can answer it
 * on its fast path), the answer read with a size cap and one
 * deadline over connect, write and read. `fetch` did the same but initialised its client on first
 * use (13–22 ms of CPU in a cold join) and cost ~16–20 ms of CPU per exchange on a fresh agent;
 * this costs a socket and a few buffers. Only what a push-pull answer needs is understood: a
 * status line, `Content-Length` or `Transfer-Encoding: chunked` (else the body runs to the end of
 * the stream); anything else malformed is an error, never a guess.
 */

/** Longest status line and headers accepted. */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface PostOptions {
  /** Deadline of the whole exchange (connect, write, read). */
  timeoutMs: number;
  /** Largest answer body accepted. */
  maxBytes: number;
  contentType?: string;
}

export interface PostAnswer {
  status: number;
  body: Uint8Array;
}

/** Why an exchange failed: the message is what the caller reports. */
export class PostError extends Error {
  override name = "PostError";
}

import { concatBytes } from "../bytes.ts";
import { hostPort } from "../host_port.ts";
const encoder = new TextEncoder();
const LATIN1 = new TextDecoder("latin1");

/** POSTs `body` to `http://host:port{path}` and returns the answer's status and body. */
export async function httpPost(
  host: string,
  port: number,
  path: string,
  body: Uint8Array,
  opts: PostOptions,
): Promise<PostAnswer> {
  let conn: Deno.TcpConn | null = null;
  let timedOut = false;
  const deadline = Promise.withResolvers<never>();
  deadline.promise.catch(() => {});
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.reject(new PostError(`no answer within ${opts.timeoutMs} ms`));
    try {
      conn?.close();
    } catch { /* already closed */ }
  }, opts.timeoutMs);
  const connecting = Deno.connect({ hostname: host, port, transport: "tcp" });
  try {
    conn = await Promise.race([connecting, deadline.promise]);
    if (timedOut) throw new PostError(`no answer within ${opts.timeoutMs} ms`);
    const hostHeader = hostPort(host, port);
    const head = encoder.encode(
      `POST ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nContent-Type: ${
        opts.contentType ?? "application/octet-stream"
      }\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const request = new Uint8Array(head.length + body.length);
    request.set(head);
    request.set(body, head.length);
    await Promise.race([writeAll(conn, request), deadline.promise]);
    return await Promise.race([readAnswer(conn, opts.maxBytes), deadline.promise]);
  } catch (err) {
    if (timedOut) throw new PostError(`no answer within ${opts.timeoutMs} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
    if (conn) {
      try {
        conn.close();
      } catch { /* closed by the timer */ }
    } else {
      // the deadline won the race with connect: close the socket when it opens
      connecting.then((c) => c.close(), () => {});
    }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Reads from `conn` into a growing buffer; `read` returns null at the end of the stream. */
class Reader {
  buf = new Uint8Array(8192);
  len = 0;
  eof = false;
  constructor(readonly conn: Deno.Conn, readonly cap: number) {}

  /** Reads more bytes (at least one, or sets `eof`). */
  async more(): Promise<void> {
    if (this.len === this.buf.length) {
      if (this.buf.length >= this.cap) throw new PostError(`answer larger than ${this.cap} bytes`);
      const bigger = new Uint8Array(Math.min(this.buf.length * 2, this.cap));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    const n = await this.conn.read(this.buf.subarray(this.len));
    if (n === null) this.eof = true;
    else this.len += n;
  }

  /** Drops the first `n` bytes. */
  consume(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }
}

async function readAnswer(conn: Deno.Conn, maxBytes: number): Promise<PostAnswer> {
  // room for the head, the largest body and chunk framing
  const r = new Reader(conn, maxBytes + MAX_HEAD_BYTES + 64);
  let end = -1;
  while ((end = headEnd(r.buf, r.len)) < 0) {
    if (r.len >= MAX_HEAD_BYTES) throw new PostError(`answer head larger than ${MAX_HEAD_BYTES} bytes`);
    await r.more();
    if (r.eof) {
      throw new PostError(
        r.len ? "connection closed inside the answer head" : "connection closed without an answer",
      );
    }
  }
  const lines = LATIN1.decode(r.buf.subarray(0, end)).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!m) throw new PostError(`malformed status line: ${JSON.stringify(lines[0].slice(0, 80))}`);
  const status = Number(m[1]);
  let length: number | null = null;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new PostError(`malformed answer header: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value) || (length !== null && length !== Number(value))) {
        throw new PostError(`bad content-length: ${JSON.stringify(value.slice(0, 40))}`);
      }
      length = Number(value);
    } else if (name === "transfer-encoding") {
      if (value.toLowerCase() !== "chunked") throw new PostError(`unsupported transfer-encoding: ${value}`);
      chunked = true;
    }
  }
  r.consume(end + 4);
  if (chunked) return { status, body: await readChunked(r, maxBytes) };
  if (length !== null) {
    if (length > maxBytes) throw new PostError(`answer larger than ${maxBytes} bytes`);
    while (r.len < length) {
      await r.more();
      if (r.eof) throw new PostError(`connection closed after ${r.len} of ${length} body bytes`);
    }
    return { status, body: r.buf.slice(0, length) };
  }
  // neither (an HTTP/1.0 answer): the body runs to the end of the stream
  while (!r.eof) {
    if (r.len > maxBytes) throw new PostError(`answer larger than ${maxBytes} bytes`);
    await r.more();
  }
  if (r.len > maxBytes) throw new PostError(`answer larger than ${maxBytes} bytes`);
  return { status, body: r.buf.slice(0, r.len) };
}

async function readChunked(r: Reader, maxBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let eol: number;
    while ((eol = lineEnd(r.buf, r.len)) < 0) {
      if (r.len > 1024) throw new PostError("malformed chunk size line");
      await r.more();
      if (r.eof) throw new PostError("connection closed inside a chunked answer");
    }
    const sizeText = LATIN1.decode(r.buf.subarray(0, eol)).split(";")[0].trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText)) {
      throw new PostError(`malformed chunk size: ${JSON.stringify(sizeText.slice(0, 20))}`);
    }
    const size = parseInt(sizeText, 16);
    r.consume(eol + 2);
    if (size === 0) break; // trailers (if any) are not read: the connection is closed after this
    total += size;
    if (total > maxBytes) throw new PostError(`answer larger than ${maxBytes} bytes`);
    while (r.len < size + 2) {
      await r.more();
      if (r.eof) throw new PostError("connection closed inside a chunked answer");
    }
    if (r.buf[size] !== 13 || r.buf[size + 1] !== 10) throw new PostError("malformed chunk end");
    parts.push(r.buf.slice(0, size));
    r.consume(size + 2);
  }
  return concatBytes(parts);
}

/** Index of the `\r\n\r\n` ending the head, or -1. */
function headEnd(buf: Uint8Array, len: number): number {
  for (let i = 0; i + 3 < len; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** Index of the first `\r\n`, or -1. */
function lineEnd(buf: Uint8Array, len: number): number {
  for (let i = 0; i + 1 < len; i++) if (buf[i] === 13 && buf[i + 1] === 10) return i;
  return -1;
}
