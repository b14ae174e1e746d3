/**
 * Bad requests of kinds real clients send get a 4xx naming what is wrong, never a 500 (each case
 * was a 500 or a silent acceptance before): an incomplete websocket upgrade, a body that is not
 * UTF-8, JSON of the wrong shape on the render routes, a name a plain object answers for, a lax
 * number, a path parameter with a percent sign, a peer body of `null`, a value nested too deep.
 */
import assert from "node:assert/strict";
import { startLiveAgent } from "../security/sec_helpers.ts";

/** One raw HTTP/1.1 request over TCP (fetch cannot send an Upgrade header or an empty Host). */
async function raw(host: string, port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "bad requests get a 4xx naming the problem, never a 500",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const a = await startLiveAgent("bad-input");
    try {
      const host = new URL(a.url).hostname;
      // an upgrade without `Connection: Upgrade` (a proxy that forwards only Upgrade), no key
      const ws = await raw(host, a.port, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n");
      assert.match(ws, /^HTTP\/1\.1 400 /, ws);
      assert.match(ws, /not a websocket upgrade/);
      // Deno.serve builds the URL from Host as sent: a path or query in it would move the route and
      // the parameters; an empty Host (or none, HTTP/1.0) is answered as usual
      for (const hostHeader of ["x/agent/members?", "x?target=b", "x y", "a@b"]) {
        const bad = await raw(host, a.port, `GET /agent/info HTTP/1.1\r\nHost: ${hostHeader}\r\n\r\n`);
        assert.match(bad, /^HTTP\/1\.1 400 .*bad Host header/s, hostHeader);
      }
      assert.match(await raw(host, a.port, "GET / HTTP/1.1\r\nHost:\r\n\r\n"), /^HTTP\/1\.1 200 .*OK$/s);
      assert.match(await raw(host, a.port, "GET / HTTP/1.0\r\n\r\n"), /^HTTP\/1\.0 200 .*OK$/s);
      assert.match(await raw(host, a.port, "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), /^HTTP\/1\.1 200 /);

      // a Latin-1 body: refused, not stored with U+FFFD in place of its letters
      const latin1 = new Uint8Array([
        ...new TextEncoder().encode('{"reason": "mise '),
        0xe0,
        ...new TextEncoder().encode(' jour"}'),
      ]);
      let r = await a.unix("/agent/maintenance", { method: "PUT", body: latin1 });
      assert.equal(r.status, 400);
      assert.match((await r.json()).error, /not UTF-8/);
      assert.equal((await (await a.unix("/agent/info")).json()).maintenance ?? null, null, "not entered");

      // JSON bodies of the render routes: an object of strings or lists of them
      for (
        const body of [
          '{"target": null}',
          '{"target": {"a": 1}}',
          '"a.b"',
          "[1, 2]",
          `{"target": ${"[".repeat(50_000)}${"]".repeat(50_000)}}`,
        ]
      ) {
        r = await a.tcp("/render", { method: "POST", headers: { "content-type": "application/json" }, body });
        assert.equal(r.status, 400, `${body.slice(0, 40)}: ${r.status}`);
        assert.match((await r.json()).error, /JSON body/);
      }
      r = await a.tcp("/render?target=a.b&maxDataPoints=0x10");
      assert.equal(r.status, 400);
      assert.match((await r.json()).error, /maxDataPoints: '0x10' is not a positive integer/);

      // names a plain object answers for are not services
      for (
        const path of ["/agent/services/__proto__", "/agent/services/constructor", "/state/services/toString"]
      ) {
        r = await a.tcp(path);
        assert.equal(r.status, 404, path);
        await r.body?.cancel();
      }
      r = await a.unix("/agent/services/__proto__", {
        method: "PUT",
        body: JSON.stringify({ check: { interval: "1m" } }),
      });
      assert.equal(r.status, 400);
      assert.match((await r.json()).error, /__proto__ is reserved/);

      // a path parameter is decoded once: `a%2541` names the node "a%41", not "aA"
      r = await a.unix("/agent/leave/a%2541", { method: "POST" });
      assert.equal(r.status, 404);
      assert.deepEqual((await r.json()).detail, { name: "a%41" });

      // a peer body that is `null` (no encryption_key: anyone may send it)
      r = await a.tcp("/metrics-internal/fetch", { method: "POST", body: "null" });
      assert.equal(r.status, 400);
      assert.match((await r.json()).error, /expected a JSON object/);

      // a value nested too deep to be quoted back is named by its field
      r = await a.unix("/agent/maintenance", {
        method: "PUT",
        body: `{"for": ${"[".repeat(50_000)}${"]".repeat(50_000)}}`,
      });
      assert.equal(r.status, 400);
      assert.match((await r.json()).error, /for: expected a duration .*got a list/);
    } finally {
      await a.close();
    }
  },
});
