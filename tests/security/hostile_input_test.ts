/**
 * A hostile-input pass over every route of the full agent, as a client that has passed the access
 * check (unix socket): bad JSON, bodies over the limit (declared and chunked), control characters
 * and malformed percent-encoding in path parameters, nonsense query parameters. Every answer is a
 * client error or a success, never an internal error, and the agent keeps answering.
 */
import assert from "node:assert/strict";
import { concretePath, type LiveAgent, startLiveAgent } from "./sec_helpers.ts";

const MAX_BODY = 64 * 1024;

/** Path parameter values a hostile client sends. */
const PARAMS = [
  "x",
  "%00",
  "%0d%0aSet-Cookie:%20a=b",
  "%1b%5b31m",
  "%ff%fe",
  "%",
  "..%2F..%2Fetc%2Fpasswd",
  "a".repeat(4000),
  "%F0%9F%92%A9",
];

/** Query strings with values out of every range a route might parse. */
const QUERIES = [
  "",
  "?ttl=-1&wait=abc&index=x&cas=y",
  "?ttl=2600000000h&wait=99999999999999999999&index=1e400",
  "?index=-5&wait=-1s&recurse=%00&keys=1&raw&meta&separator=%ff",
  "?from=zzz&until=%00&target=&query=%2A%2A%2A&cmd=%0a",
  "?" + "a=1&".repeat(2000),
];

/** Bodies for methods that take one. */
function bodies(): Array<{ label: string; init: RequestInit }> {
  const big = "x".repeat(MAX_BODY + 1);
  return [
    { label: "bad JSON", init: { body: "{not json", headers: { "content-type": "application/json" } } },
    { label: "control chars", init: { body: "\u0000\u0001\u001b[2J\r\n\u007f" } },
    { label: "deep JSON", init: { body: "[".repeat(50_000) + "]".repeat(50_000) } },
    { label: "JSON of the wrong shape", init: { body: '{"key": 5, "check": [], "value": {"a": null}}' } },
    { label: "over the limit", init: { body: big } },
    {
      label: "over the limit, chunked",
      init: {
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 3; i++) c.enqueue(new TextEncoder().encode(big.slice(0, MAX_BODY / 2 + 1)));
            c.close();
          },
        }),
      },
    },
  ];
}

/** Routes whose success would end the agent under test (covered in remote_stop_test.ts). */
const SKIP = /^\/stop\/?$/;

function routes(a: LiveAgent): Array<{ method: string; path: string }> {
  const all = [...a.docs(), ...a.undeclared()].map((d) => ({ method: d.method, path: d.path }));
  return all.filter((d) => !SKIP.test(d.path));
}

Deno.test({
  name: "hostile input on every route: never a 500, the agent keeps answering",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const a = await startLiveAgent("sec-hostile", {
      http: { max_body: MAX_BODY },
      kv: { replicas: 1, write_acks: 1 },
      tags: ["kv"],
    });
    const failures: string[] = [];
    let sent = 0;
    const send = async (method: string, path: string, init: RequestInit, label: string) => {
      sent++;
      let status: number;
      try {
        const r = await a.unix(path, { method, ...init });
        status = r.status;
        await r.body?.cancel();
      } catch (err) {
        failures.push(`${method} ${path.slice(0, 120)} [${label}]: no answer (${(err as Error).message})`);
        return;
      }
      if (status >= 500 && status !== 503) {
        failures.push(`${method} ${path.slice(0, 120)} [${label}]: ${status}`);
      }
    };
    try {
      for (const r of routes(a)) {
        const hasParam = r.path.includes(":");
        for (const p of hasParam ? PARAMS : ["x"]) {
          const path = concretePath(r.path, p);
          for (const q of QUERIES) {
            await send(r.method, path + q, {}, "query");
          }
        }
        if (r.method !== "GET") {
          for (const b of bodies()) await send(r.method, concretePath(r.path), b.init, b.label);
        }
      }
      // raw garbage on the TCP port: the front and the server answer or close, never hang
      for (
        const raw of [
          "GARBAGE\r\n\r\n",
          "GET /" + "a".repeat(70_000) + " HTTP/1.1\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
          "\u0000\u0001\u0002\r\n\r\n",
        ]
      ) {
        const conn = await Deno.connect({ hostname: "127.0.0.41", port: a.port });
        await conn.write(new TextEncoder().encode(raw)).catch(() => 0);
        const buf = new Uint8Array(4096);
        const n = await Promise.race([
          conn.read(buf).catch(() => null),
          new Promise<"hang">((r) => setTimeout(() => r("hang"), 10_000)),
        ]);
        conn.close();
        assert.notEqual(n, "hang", `raw ${JSON.stringify(raw.slice(0, 30))}: no answer and not closed`);
      }
      const alive = await a.tcp("/");
      assert.equal(await alive.text(), "OK", "still answering over TCP");
      const viaUnix = await a.unix("/agent/name");
      assert.equal(await viaUnix.text(), "sec-hostile", "still answering over the socket");
      assert.ok(sent > 500, `requests sent: ${sent}`);
      assert.deepEqual(failures, []);
    } finally {
      await a.close();
    }
  },
});
