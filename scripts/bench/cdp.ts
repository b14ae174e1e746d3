/**
 * A minimal Chrome DevTools Protocol client for the bench's profilers (cpu_profile.ts,
 * alloc_profile.ts): connects to the first target of a Deno process started with
 * `--inspect=127.0.0.1:PORT` and sends commands, each answered with its `result` (or `error`).
 *
 * ```ts
 * const cdp = await connectCdp(9229);
 * await cdp.send("Profiler.enable");
 * cdp.close();
 * ```
 */
export interface Cdp {
  send(method: string, params?: Record<string, unknown>): Promise<unknown>;
  /** Calls `fn` with the params of each event `method` the target sends. */
  on(method: string, fn: (params: Record<string, unknown>) => void): void;
  close(): void;
}

export async function connectCdp(port: number | string): Promise<Cdp> {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = rej;
  });
  let nextId = 1;
  const waiting = new Map<number, (v: unknown) => void>();
  const listeners = new Map<string, (params: Record<string, unknown>) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)!(msg.result ?? msg.error);
      waiting.delete(msg.id);
    } else if (msg.method) listeners.get(msg.method)?.(msg.params ?? {});
  };
  return {
    send(method, params = {}) {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((res) => waiting.set(id, res));
    },
    on(method, fn) {
      listeners.set(method, fn);
    },
    close: () => ws.close(),
  };
}
