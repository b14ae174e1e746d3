/**
 * `GET /packs` and `kunai packs list`: the package.json of every pack folder of every configuration
 * directory, with its level; unreadable metadata is listed with its error, never dropped silently.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listPacks } from "../../lib/config/mod.ts";
import { tempDir } from "../helpers.ts";
import { startLiveAgent } from "../security/sec_helpers.ts";

Deno.test("listPacks: every pack folder with a package.json, named by it, with its level and errors", () => {
  using t = tempDir("kunai-packs-");
  const cfg = join(t.dir, "etc");
  const global = join(t.dir, "data", "global-configuration");
  const local = join(t.dir, "data", "local-configuration");
  const pack = (dir: string, folder: string, text?: string) => {
    Deno.mkdirSync(join(dir, "packs", folder), { recursive: true });
    if (text !== undefined) Deno.writeTextFileSync(join(dir, "packs", folder, "package.json"), text);
  };
  pack(cfg, "site", '{"name": "site-pack", "version": "1.2", "keywords": ["x"]}');
  pack(global, "linux", '{"name": "linux", "version": "0.9.0"}');
  pack(global, "noname", '{"version": "2"}');
  pack(global, "nometa"); // no package.json: not a pack the reference would list
  pack(local, "broken", "{not json");
  pack(local, "list", "[1]");
  Deno.mkdirSync(join(local, "packs", ".hidden"), { recursive: true });
  const got = listPacks([cfg, global, join(t.dir, "data", "zone-configuration"), local]);
  assert.deepEqual(got.map((p) => [p.name, p.level]), [
    ["site-pack", "cfg"],
    ["linux", "global"],
    ["noname", "global"],
    ["broken", "local"],
    ["list", "local"],
  ]);
  assert.deepEqual(got[0].keywords, ["x"], "the package.json as written");
  assert.match(String(got[3].error), /not JSON/);
  assert.match(String(got[4].error), /not a JSON object/);
  assert.equal(JSON.stringify(got).includes(t.dir), false, "no local path in what an open route returns");
});

Deno.test({
  name: "GET /packs lists the packs at each call (a read route, open over TCP)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const a = await startLiveAgent("packs");
    try {
      assert.deepEqual(await (await a.tcp("/packs")).json(), []);
      const dir = join(a.agent.config.dirs[1], "packs", "linux");
      Deno.mkdirSync(dir, { recursive: true });
      Deno.writeTextFileSync(join(dir, "package.json"), '{"name": "linux", "version": "0.9.0"}');
      const r = await a.tcp("/packs");
      assert.equal(r.status, 200);
      const packs = await r.json() as Array<{ name: string; level: string; version: string }>;
      const linux = packs.find((p) => p.name === "linux");
      assert.ok(linux, JSON.stringify(packs));
      assert.equal(linux.level, "global");
      assert.match(linux.version, /^\d+\.\d+/);
      assert.deepEqual(await (await a.tcp("/packs/")).json(), packs);
    } finally {
      await a.close();
    }
  },
});
