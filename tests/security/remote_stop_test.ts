/**
 * Hole 1: `GET /agent/leave/<own name>` or `/stop` over TCP stopped the agent, even with
 * `http.token` and `encryption_key` set, and `Access-Control-Allow-Origin: *` let any web page do it.
 */
import assert from "node:assert/strict";
import { type AgentProc, startAgent } from "../helpers.ts";
import { newKey } from "./sec_helpers.ts";

const ADDR = "127.0.0.42";

/** The agent process is still running and answering over TCP after `ms`. */
async function stillUp(a: AgentProc, ms = 1500): Promise<boolean> {
  let exited = false;
  a.child.status.then(() => exited = true);
  await new Promise((r) => setTimeout(r, ms));
  if (exited) return false;
  const r = await fetch(`http://${ADDR}:${a.port}/agent/name`);
  return r.ok && (await r.text()).length > 0;
}

async function exitsWithin(a: AgentProc, ms: number): Promise<boolean> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => t = setTimeout(() => r(false), ms));
  const done = await Promise.race([a.child.status.then(() => true), timeout]);
  clearTimeout(t);
  return done;
}

Deno.test("hole 1: leave of itself and /stop over TCP without the token are refused; the agent keeps running", async () => {
  const a = await startAgent({
    name: "victim",
    addr: ADDR,
    params: { http: { token: "t0ken" }, encryption_key: newKey() },
  });
  const base = `http://${ADDR}:${a.port}`;
  try {
    const name = await (await fetch(`${base}/agent/name`)).text();
    assert.equal(name, "victim");
    const attempts: Array<[string, RequestInit]> = [
      [`/agent/leave/${name}`, {}],
      [`/agent/leave/${name}`, { headers: { origin: "http://evil.example" } }],
      ["/stop", {}],
      ["/stop", { method: "POST" }],
      ["/stop", { method: "POST", headers: { origin: "http://evil.example", "content-type": "text/plain" } }],
      ["/stop", { headers: { authorization: "Bearer wrong" } }],
    ];
    for (const [path, init] of attempts) {
      const r = await fetch(base + path, init);
      assert.ok([401, 403].includes(r.status), `${init.method ?? "GET"} ${path}: ${r.status}`);
      assert.notEqual(r.headers.get("access-control-allow-origin"), "*", `${path}: no CORS * on an action`);
      await r.body?.cancel();
    }
    assert.ok(await stillUp(a), "the agent survived every attempt");
    assert.doesNotMatch(a.stderr(), /no encryption_key/, "a keyed agent does not warn");

    // the owner, with the token, still can
    const ok = await fetch(`${base}/stop`, { method: "POST", headers: { authorization: "Bearer t0ken" } });
    assert.equal(ok.status, 200, await ok.text());
    assert.ok(await exitsWithin(a, 10_000), "stopped with the token");
  } finally {
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

Deno.test("without http.token, /stop over TCP answers 403 naming http.token; http.open_writes reopens it with a warning", async () => {
  const closed = await startAgent({ name: "closed", addr: ADDR });
  try {
    assert.match(
      closed.stderr(),
      /no encryption_key is set, so anyone who can reach this agent.s port can join the cluster/,
    );
    assert.match(closed.stderr(), /write routes are refused over TCP .* because http\.token is not set/);
    const r = await fetch(`http://${ADDR}:${closed.port}/stop`);
    assert.equal(r.status, 403);
    assert.match((await r.json()).error, /http\.token/);
    assert.ok(await stillUp(closed, 300));
  } finally {
    await closed.stop();
    Deno.removeSync(closed.dir, { recursive: true });
  }
  const open = await startAgent({ name: "open", addr: ADDR, params: { http: { open_writes: true } } });
  try {
    assert.match(open.stderr(), /http\.open_writes is true: anyone who can reach/);
    const r = await fetch(`http://${ADDR}:${open.port}/stop`, { method: "POST" });
    assert.equal(r.status, 200);
    await r.body?.cancel();
    assert.ok(await exitsWithin(open, 10_000), "open_writes: stopped without a token");
  } finally {
    await open.stop();
    Deno.removeSync(open.dir, { recursive: true });
  }
});
