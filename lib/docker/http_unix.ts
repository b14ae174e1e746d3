/**
 * A minimal HTTP/1.1 GET over a unix socket (the Docker Engine API). `fetch` with a unix-proxy
 * client would also need net access to the URL's host; `Deno.connect` needs only the socket path.
 */

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const MAX_REPLY = 64 * 1024 * 1024;

/** Parses a complete `Connection: close` response (Content-Length, chunked or read-to-end bodies). */
export function parseHttpResponse(bytes: Uint8Array): HttpReply {
  let headEnd = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      headEnd = i;
      break;
    }
  }
  if (headEnd < 0) throw new Error("HTTP reply has no end of headers");
  const head = new TextDecoder().decode(bytes.subarray(0, headEnd)).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  if (!m) throw new Error(`bad HTTP status line "${head[0].slice(0, 80)}"`);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = bytes.subarray(headEnd + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) body = dechunk(body);
  else if (headers["content-length"] !== undefined) {
    body = body.subarray(0, Number(headers["content-length"]));
  }
  return { status: Number(m[1]), headers, body: new TextDecoder().decode(body) };
}

function dechunk(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  while (pos < b.length) {
    let eol = pos;
    while (eol + 1 < b.length && !(b[eol] === 13 && b[eol + 1] === 10)) eol++;
    const size = parseInt(new TextDecoder().decode(b.subarray(pos, eol)).split(";")[0], 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size in HTTP reply");
    if (size === 0) break;
    parts.push(b.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** GET `path` from the HTTP server on unix socket `socket`; rejects after `timeoutMs`. */
export async function unixGet(socket: string, path: string, timeoutMs = 5000): Promise<HttpReply> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  try {
    await conn.write(
      new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n`),
    );
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) {
          throw new Error(`GET ${path}: no complete answer within ${timeoutMs} ms`);
        }
        throw err;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
      if (total > MAX_REPLY) throw new Error(`GET ${path}: reply larger than ${MAX_REPLY} bytes`);
    }
    const all = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    return parseHttpResponse(all);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** GET and parse JSON; non-2xx answers become errors naming the path and status. */
export async function unixGetJson<T>(socket: string, path: string, timeoutMs?: number): Promise<T> {
  const r = await unixGet(socket, path, timeoutMs);
  if (r.status < 200 || r.status > 299) {
    throw new Error(`GET ${path}: docker answered ${r.status}: ${r.body.slice(0, 200)}`);
  }
  try {
    return JSON.parse(r.body) as T;
  } catch (err) {
    throw new Error(`GET ${path}: invalid JSON: ${(err as Error).message}`);
  }
}
