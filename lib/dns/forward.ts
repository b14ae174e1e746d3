/**
 * Forwarding of names outside our domain to the configured recursors (`dns.recursors`), over the
 * protocol the client used. The upstream reply is relayed as is once its id matches the query's.
 */

/** A recursor address. */
export interface Upstream {
  hostname: string;
  port: number;
}

/** Parses `addr`, `addr:port` or `[v6]:port`; null when malformed. */
export function parseUpstream(text: string): Upstream | null {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text);
  const v4 = /^([^:\s]+)(?::(\d+))?$/.exec(text);
  const bare6 = /^[0-9a-fA-F:]+$/.test(text) && text.includes(":") ? text : null;
  const host = v6?.[1] ?? bare6 ?? v4?.[1];
  const port = Number(v6?.[2] ?? (bare6 ? undefined : v4?.[2]) ?? 53);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { hostname: host, port };
}

/** Sends `query` to `up` and waits for its reply; null on timeout. */
export async function forwardQuery(
  up: Upstream,
  query: Uint8Array,
  proto: "udp" | "tcp",
  timeoutMs: number,
): Promise<Uint8Array | null> {
  return proto === "udp" ? await viaUdp(up, query, timeoutMs) : await viaTcp(up, query, timeoutMs);
}

/**
 * Runs `io` on `res`, closing `res` after `timeoutMs` (which makes a pending read fail) and in any
 * case at the end; a read cut by the deadline answers null.
 */
async function withDeadline<R extends { close(): void }>(
  res: R,
  timeoutMs: number,
  io: (res: R) => Promise<Uint8Array | null>,
): Promise<Uint8Array | null> {
  const timer = setTimeout(() => res.close(), timeoutMs);
  try {
    return await io(res);
  } catch (err) {
    if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return null;
    throw err;
  } finally {
    clearTimeout(timer);
    try {
      res.close();
    } catch { /* closed by the timer */ }
  }
}

/** A reply to `query`: a whole header and the same id. */
function answers(query: Uint8Array, reply: Uint8Array | null): boolean {
  return !!reply && reply.length >= 12 && reply[0] === query[0] && reply[1] === query[1];
}

function viaUdp(up: Upstream, query: Uint8Array, timeoutMs: number): Promise<Uint8Array | null> {
  const sock = Deno.listenDatagram({
    hostname: up.hostname.includes(":") ? "::" : "0.0.0.0",
    port: 0,
    transport: "udp",
  });
  return withDeadline(sock, timeoutMs, async () => {
    await sock.send(query, { transport: "udp", hostname: up.hostname, port: up.port });
    while (true) {
      const [data] = await sock.receive();
      if (answers(query, data)) return data;
    }
  });
}

async function viaTcp(up: Upstream, query: Uint8Array, timeoutMs: number): Promise<Uint8Array | null> {
  const started = performance.now();
  const conn = await connectWithin(up, timeoutMs);
  if (!conn) return null;
  return await withDeadline(conn, Math.max(0, timeoutMs - (performance.now() - started)), async () => {
    const framed = new Uint8Array(query.length + 2);
    framed[0] = query.length >> 8;
    framed[1] = query.length & 0xff;
    framed.set(query, 2);
    let off = 0;
    while (off < framed.length) off += await conn.write(framed.subarray(off));
    const head = await readExactly(conn, 2);
    if (!head) return null;
    const body = await readExactly(conn, (head[0] << 8) | head[1]);
    return answers(query, body) ? body : null;
  });
}

/**
 * A TCP connection to `up`, or null when it is not made within `ms` (a recursor that drops SYNs
 * would take the system's connect timeout, minutes, holding one of the forwards in flight); a
 * connection made too late is closed.
 */
async function connectWithin(up: Upstream, ms: number): Promise<Deno.Conn | null> {
  const attempt = Deno.connect({ hostname: up.hostname, port: up.port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
  try {
    const conn = await Promise.race([attempt, late]);
    if (!conn) attempt.then((c) => c.close(), () => {});
    return conn;
  } finally {
    clearTimeout(timer);
  }
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) return null;
    off += r;
  }
  return out;
}
