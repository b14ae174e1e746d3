/**
 * `/exec/run` is a peer route: without a cluster key anyone on the network reaches it. Its
 * refusals are counted each, logged once a minute per reason, and what a refusal logs is bounded
 * (`from` is checked before anything is logged: 8 MB of it made 32 MB log lines).
 */
import assert from "node:assert/strict";
import { createExec, parseSigned } from "../../lib/exec/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import type { PeerEnvelope } from "../../lib/transport/mod.ts";

const request = {
  v: 1,
  cid: "0123456789abcdef0123456789abcdef",
  cmd: "echo hi",
  tag: "web",
  nonce: "bm9uY2U=",
  issued: 1,
  expires: 2,
  from: "0123456789abcdef0123456789abcdef01234567",
};

Deno.test("exec: a `from` that is not a short name or uuid makes the request malformed", () => {
  assert.ok(parseSigned({ req: request, sig: "x" }));
  assert.ok(parseSigned({ req: { ...request, from: "asker" }, sig: "x" }));
  for (const from of ["", "\x7f".repeat(100), "a".repeat(65), "a b", "a\nb"]) {
    assert.equal(parseSigned({ req: { ...request, from }, sig: "x" }), null, JSON.stringify(from));
  }
});

Deno.test("exec: 100 refusals of one reason are 100 counted and one line; another reason gets its own", async () => {
  using ctx = makeTestCtx();
  const exec = createExec(ctx, {
    membership: { members: () => [] },
    envelope: null as unknown as PeerEnvelope,
    kv: null,
  });
  await exec.start(); // no master_key_pub: every well-formed request is refused (no-public-key)
  const routes = exec.routes!();
  const post = (body: unknown) =>
    routes.request("/exec/run", { method: "POST", body: JSON.stringify(body) }, { transport: "tcp" });
  for (let i = 0; i < 100; i++) {
    await (await post({ req: { ...request, from: "\x7f".repeat(10_000) }, sig: "x" })).body?.cancel();
  }
  const ok = await post({ req: request, sig: "x" });
  assert.deepEqual(await ok.json(), { accepted: false, reason: "no-public-key" });
  const lines = ctx.sink.recent.WARNING.filter((l) => l.includes("exec refused"));
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(lines[0], /exec refused \(malformed\)/);
  assert.match(lines[1], /exec refused \(no-public-key\).* from 0123456789abcdef/);
  assert.equal(ctx.counters.get("exec_refused_total", { reason: "malformed" }), 100);
});

Deno.test("exec: a master_key_priv that cannot be read says why to the one who asks, not 'set master_key_priv'", async () => {
  using ctx = makeTestCtx({
    files: { "bad.key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" },
  });
  (ctx.config.params as { master_key_priv: string }).master_key_priv = `${ctx.config.cfgDir}/bad.key`;
  const exec = createExec(ctx, {
    membership: { members: () => [] },
    envelope: null as unknown as PeerEnvelope,
    kv: null,
  });
  await exec.start();
  await assert.rejects(
    () => exec.launch("*", "uptime"),
    /master_key_priv is not usable: cannot load the private key .*bad\.key: neither an Ed25519 nor an RSA key/,
  );
  assert.match(ctx.sink.recent.ERROR.join("\n"), /exec: cannot load the private key .*bad\.key/);
});
