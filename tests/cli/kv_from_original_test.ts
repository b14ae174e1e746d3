/**
 * `kunai kv export --from-original URL`: moving from the Python kunai keeps the users' keys. The
 * original agent is not available to the tests (Python 2, leveldb): a stand-in answers its two KV
 * routes as its reference describes them (`GET /kv/` lists the node's local keys, internal ones
 * included; `GET /kv/<key:path>` answers the raw value, 404 when absent), and a real agent takes
 * the keys through `kv import`.
 */
import assert from "node:assert/strict";
import { freePort, runKunai, startAgent } from "../helpers.ts";
import { internalKey } from "../../cli/kv_original.ts";

const enc = new TextEncoder();

function original(store: Map<string, Uint8Array<ArrayBuffer>>, listed: string[]) {
  const port = freePort();
  const server = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/kv/") return Response.json(listed);
    const key = path.slice(4).split("/").map(decodeURIComponent).join("/");
    const v = store.get(key);
    return v
      ? new Response(v, { headers: { "content-type": "text/html; charset=UTF-8" } })
      : new Response("", { status: 404 });
  });
  return { url: `http://127.0.0.1:${port}`, server };
}

Deno.test("the original's bookkeeping keys are told from users' keys", () => {
  for (
    const k of [
      "__meta/app/x",
      "__health/n1",
      "__health",
      "__health/n1/cpu",
      "__exec/abc/u",
      "__libexec/a.sh",
    ]
  ) {
    assert.ok(internalKey(k), k);
  }
  for (const k of ["__configuration", "__configuration/a.json", "cpu.load::m1480000000", "x::h1", "y::d3"]) {
    assert.ok(internalKey(k), k);
  }
  for (const k of ["app/color", "__metadata", "health/x", "a::m", "a::mx1", "a::m1/b", "exec/x"]) {
    assert.equal(internalKey(k), null, k);
  }
});

Deno.test({
  name:
    "kv export --from-original, then kv import: users' keys (binary, odd names) moved, internal ones left out, the rest said",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = new Map<string, Uint8Array<ArrayBuffer>>([
      ["app/color", enc.encode("blue")],
      ["app/bin", new Uint8Array([0, 255, 1, 2, 10])],
      ["sp ace/é?#%2F", enc.encode("odd")],
      ["a/../b", enc.encode("dots")],
      ["__meta/app/color", enc.encode('{"modify_index": 3}')],
      ["__health/n1", enc.encode("[]")],
      ["cpu.load::m1480000000", enc.encode("x")],
      ["zz/other", enc.encode("z")],
    ]);
    // two nodes of the original: each lists its own keys (a key and its replica on both)
    const one = original(store, [
      "app/color",
      "sp ace/é?#%2F",
      "__meta/app/color",
      "a/../b",
      "expired-meanwhile",
    ]);
    const two = original(store, ["app/color", "app/bin", "__health/n1", "cpu.load::m1480000000", "zz/other"]);
    const dir = Deno.makeTempDirSync();
    // no kunai agent is needed to read the original: the socket named here does not exist
    const env = { KUNAI_SOCKET: `${dir}/none.sock` };
    try {
      const r = await runKunai([
        "kv",
        "export",
        "--from-original",
        one.url,
        "--from-original",
        two.url.slice(7),
      ], env);
      assert.equal(r.code, 1, "a/../b cannot be a kunai key: " + r.stderr);
      const entries = JSON.parse(r.stdout);
      assert.deepEqual(entries, [
        { key: "app/bin", flags: 0, value: btoa(String.fromCharCode(0, 255, 1, 2, 10)) },
        { key: "app/color", flags: 0, value: btoa("blue") },
        { key: "sp ace/é?#%2F", flags: 0, value: btoa("odd") },
        { key: "zz/other", flags: 0, value: btoa("z") },
      ]);
      assert.match(r.stderr, /"a\/\.\.\/b" \(http:\/\/127\.0\.0\.1:\d+\) left out: invalid key/);
      assert.match(
        r.stderr,
        /127\.0\.0\.1:\d+: 2 key\(s\) read \(1 internal key\(s\) of the original left out, 1 gone before they were read, 1 that cannot be kunai keys\)/,
      );
      assert.match(
        r.stderr,
        /127\.0\.0\.1:\d+: 3 key\(s\) read \(2 internal key\(s\) of the original left out\)/,
      );
      const prefixed = await runKunai(["kv", "export", "app/", "--from-original", two.url], env);
      assert.equal(prefixed.code, 0, prefixed.stderr);
      assert.deepEqual(JSON.parse(prefixed.stdout).map((e: { key: string }) => e.key), [
        "app/bin",
        "app/color",
      ]);

      // then into a kunai agent, as any export
      const file = `${dir}/keys.json`;
      Deno.writeTextFileSync(file, r.stdout);
      const a = await startAgent({ name: "kvorig" });
      try {
        const imp = await a.cli(["kv", "import", file]);
        assert.equal(imp.code, 0, imp.stderr);
        assert.equal((await a.cli(["kv", "get", "app/color"])).stdout, "blue\n");
        assert.equal((await a.cli(["kv", "get", "sp ace/é?#%2F"])).stdout, "odd\n");
      } finally {
        await a.stop();
      }

      // an agent that does not answer is said, exit 1
      const notOriginal = original(store, []);
      await notOriginal.server.shutdown();
      const gone = await runKunai(["kv", "export", "--from-original", notOriginal.url], env);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /cannot read the original agent: http:\/\/127\.0\.0\.1:\d+\/kv\/: /);
      const scheme = await runKunai(["kv", "export", "--from-original", "ftp://h"], env);
      assert.equal(scheme.code, 2);
      assert.match(scheme.stderr, /http:\/\/ or https:\/\/ only/);
    } finally {
      await one.server.shutdown();
      await two.server.shutdown();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
