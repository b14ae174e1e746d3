/**
 * The TCP front answering a peer route itself (`RouteTable.fastPeer`, used by `POST
 * /gossip/push-pull`): the same envelope rules as the app's peer routes (sealed bodies only, no
 * replay, the answer sealed), the same statuses, and the fast path really taken.
 */
import assert from "node:assert/strict";
import { HttpError, peerResponse, readPeerBody, RouteTable } from "../../lib/routing/mod.ts";
import { generateKey, Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { httpPost } from "../../lib/transport/http_post.ts";
import { makeTestCtx } from "../helpers.ts";
import { fastAndSlowServers } from "./fast_pair.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const OPTS = { timeoutMs: 2000, maxBytes: 1 << 20 };

/** Answers "echo:<plain>"; "boom" is refused with a 400 like the push-pull route. */
function serveEcho(plain: Uint8Array): Uint8Array {
  const text = dec.decode(plain);
  if (text === "boom") throw new HttpError(400, "refused", { reason: "boom" });
  return enc.encode(`echo:${text}`);
}

function table(): RouteTable {
  const r = new RouteTable("t");
  r.peer("POST", "/peer/echo", "echo", async (c) => await peerResponse(c, serveEcho(await readPeerBody(c))));
  r.fastPeer("POST", "/peer/echo", serveEcho);
  r.read("GET", "/open", "open", (c) => c.text("ok"));
  return r;
}

/** The same table served with and without the front's fast path, sharing one keyring; a client envelope. */
async function servers() {
  const ctx = makeTestCtx();
  const keyring = await Keyring.create([generateKey()]);
  const serverEnv = new PeerEnvelope(keyring, { now: () => Date.now() });
  const client = new PeerEnvelope(keyring, { now: () => Date.now() });
  const routers = [table()];
  const policy = {
    token: "",
    maxBody: 1 << 20,
    log: ctx.log,
    counters: ctx.counters,
    peerEnvelope: serverEnv,
  };
  const pair = await fastAndSlowServers(routers, policy, () => ctx.cleanup());
  return Object.assign(pair, { client, serverEnv });
}

Deno.test("fast peer route: sealed exchange answered by the front, sealed answer", async () => {
  await using s = await servers();
  for (const port of [s.fast, s.slow]) {
    const a = await httpPost("127.0.0.1", port, "/peer/echo", await s.client.seal(enc.encode("hi")), OPTS);
    assert.equal(a.status, 200);
    const opened = await s.client.open(a.body);
    assert.ok(opened.ok, "the answer is sealed with the cluster key");
    assert.equal(dec.decode(opened.plain), "echo:hi");
  }
  assert.equal(s.taken, 1, "the fast server answered on its fast path");
});

Deno.test("fast peer route: replays, unsealed bodies and handler refusals get the app's statuses", async () => {
  await using s = await servers();
  const status = async (port: number, body: Uint8Array) => {
    const a = await httpPost("127.0.0.1", port, "/peer/echo", body, OPTS);
    return { status: a.status, text: dec.decode(a.body) };
  };
  for (const port of [s.fast, s.slow]) {
    const sealed = await s.client.seal(enc.encode(`once ${port}`));
    assert.equal((await status(port, sealed)).status, 200);
    const replay = await status(port, sealed);
    assert.equal(replay.status, 401);
    assert.match(replay.text, /peer message refused: replay/);
    const plain = await status(port, enc.encode("not sealed"));
    assert.equal(plain.status, 401);
    const refused = await status(port, await s.client.seal(enc.encode("boom")));
    assert.equal(refused.status, 400);
    assert.match(refused.text, /refused/);
  }
  assert.equal(s.taken, 4, "all four went through the fast path on the fast server");
  assert.ok(s.serverEnv.dropped.replay >= 2, "replays counted by the envelope on both paths");
});

Deno.test("fastPeer only for declared peer routes without parameters", () => {
  const r = new RouteTable("t");
  r.read("GET", "/open", "open", (c) => c.text("ok"));
  r.peer("POST", "/peer/:id", "with a parameter", (c) => c.text("x"));
  assert.throws(() => r.fastPeer("POST", "/nope", serveEcho), /declare the route first/);
  assert.throws(() => r.fastPeer("GET", "/open", serveEcho), /only for peer routes/);
  assert.throws(() => r.fastPeer("POST", "/peer/:id", serveEcho), /no parameters/);
  assert.throws(() => r.fast("POST", "/peer/:id", () => null), /not for peer routes/);
});

Deno.test("fast path: the Date header follows the wall clock back when it steps back an hour", async () => {
  await using s = await servers();
  const realNow = Date.now;
  const dateOf = async () => {
    const r = await fetch(`http://127.0.0.1:${s.fast}/peer/echo`, {
      method: "POST",
      body: (await s.client.seal(enc.encode("hi"))) as Uint8Array<ArrayBuffer>,
    });
    await r.body?.cancel();
    assert.equal(r.status, 200);
    return Date.parse(r.headers.get("date") ?? "");
  };
  try {
    const before = await dateOf();
    assert.ok(Math.abs(before - realNow()) < 5_000, `Date ${new Date(before).toISOString()}`);
    Date.now = () => realNow() - 3_600_000;
    const after = await dateOf();
    assert.ok(
      Math.abs(after - (realNow() - 3_600_000)) < 5_000,
      `Date after the step ${new Date(after).toISOString()}`,
    );
  } finally {
    Date.now = realNow;
  }
  assert.equal(s.taken, 2, "both answered on the fast path");
});
