/**
 * The reference's runtime configuration routes (§2.3) and `kunai zone change`: `GET /configuration`
 * returns local.json, `PUT /configuration/update` merges into it and reloads, `PUT /agent/zone` moves
 * the node. A refused update leaves local.json byte for byte as it was; an update another file would
 * override is refused rather than silently doing nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { MemberRecord } from "../../lib/types.ts";
import { type LiveAgent, startLiveAgent } from "../security/sec_helpers.ts";

async function withAgent(fn: (a: LiveAgent, localJson: string) => Promise<void>, params = {}) {
  const a = await startLiveAgent("cfg-upd", params);
  try {
    await fn(a, join(a.agent.config.cfgDir, "local.json"));
  } finally {
    await a.close();
  }
}

const put = (a: LiveAgent, path: string, body: string) => a.unix(path, { method: "PUT", body });
const self = async (a: LiveAgent) =>
  Object.values(await (await a.unix("/agent/members")).json() as Record<string, MemberRecord>)[0];

Deno.test({
  name: "configuration/update merges into local.json, reloads, and leaves it untouched when refused",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withAgent(async (a, localJson) => {
      const r = await put(a, "/configuration/update", '{"log_level": "DEBUG", "site": {"floor": 3}}');
      assert.equal(r.status, 200);
      const body = await r.json();
      assert.deepEqual(body.restart_needed, []);
      assert.equal(body.file, localJson);
      const saved = JSON.parse(Deno.readTextFileSync(localJson));
      assert.equal(saved.log_level, "DEBUG");
      assert.deepEqual(saved.site, { floor: 3 });
      assert.deepEqual(Object.keys(saved), Object.keys(saved).sort(), "rewritten with sorted keys");
      assert.equal(a.agent.config.params.log_level, "DEBUG", "applied at once");
      assert.deepEqual(a.agent.config.data.site, { floor: 3 }, "free data re-read");
      assert.deepEqual(await (await a.unix("/configuration")).json(), saved);

      // a parameter that needs a restart is saved and reported
      const port = await (await put(a, "/configuration/update", `{"port": ${a.port + 1}}`)).json();
      assert.deepEqual(port.restart_needed, ["port"]);
      // listeners (dns, websocket, statsd, graphite, shinken) are opened at start: a changed one is
      // reported as needing a restart, not silently left closed
      const dns = await (await put(a, "/configuration/update", '{"dns": {"enabled": true, "port": 0}}'))
        .json();
      assert.deepEqual(dns.restart_needed, ["port", "dns"]);
      // until then /agent/info tells what runs, and what waits for the restart
      const ws = await (await put(a, "/configuration/update", '{"websocket": {"enabled": true, "port": 1}}'))
        .json();
      assert.deepEqual(ws.restart_needed, ["port", "dns", "websocket"]);
      const info = await (await a.unix("/agent/info")).json();
      assert.deepEqual(info.restart_needed, ["port", "dns", "websocket"]);
      assert.equal(info.port, a.port);
      assert.equal(info.websocket, null, "no websocket listener was opened");
      assert.deepEqual([info.websocket_info.enabled, info.websocket_info.port], [false, null]);
      assert.equal(info.dns, null);

      // refused: the file is not even rewritten (same inode and time: nothing else ever reads a
      // refused configuration there), and the running configuration stays
      const before = Deno.readTextFileSync(localJson);
      const { ino, mtime } = Deno.statSync(localJson);
      for (
        const [bad, status, re] of [
          ['{"log_level": "LOUD"}', 400, /log_level: "LOUD" is not one of/],
          ['{"check": []}', 400, /check/],
          ["[1, 2]", 400, /expected a JSON object/],
          ["{not json", 400, /JSON/],
        ] as const
      ) {
        const res = await put(a, "/configuration/update", bad);
        assert.equal(res.status, status, bad);
        assert.match((await res.json()).error, re, bad);
        assert.equal(Deno.readTextFileSync(localJson), before, `${bad}: local.json unchanged`);
        const st = Deno.statSync(localJson);
        assert.deepEqual([st.ino, st.mtime], [ino, mtime], `${bad}: local.json rewritten`);
      }
      assert.equal(a.agent.config.params.log_level, "DEBUG");

      // a local.json that is a symlink stays one: the file it points to is rewritten
      const real = join(a.agent.config.cfgDir, "..", "managed-local.json");
      Deno.renameSync(localJson, real);
      Deno.symlinkSync(real, localJson);
      await (await put(a, "/configuration/update", '{"managed": true}')).body?.cancel();
      assert.equal(Deno.lstatSync(localJson).isSymlink, true);
      assert.equal(JSON.parse(Deno.readTextFileSync(real)).managed, true);

      // null removes a key
      await (await put(a, "/configuration/update", '{"site": null}')).body?.cancel();
      assert.equal("site" in JSON.parse(Deno.readTextFileSync(localJson)), false);
      assert.equal(a.agent.config.data.site, undefined);

      // two updates at once: both land
      const both = await Promise.all([
        put(a, "/configuration/update", '{"first_site": 1}'),
        put(a, "/configuration/update", '{"second_site": 2}'),
      ]);
      for (const res of both) assert.equal(res.status, 200, await res.text());
      const last = JSON.parse(Deno.readTextFileSync(localJson));
      assert.deepEqual([last.first_site, last.second_site], [1, 2]);

      // both routes are writes: over TCP without the token, nothing is read or written
      for (const [method, path] of [["GET", "/configuration"], ["PUT", "/configuration/update"]]) {
        const res = await a.tcp(path, { method, body: method === "PUT" ? '{"third_site": 3}' : undefined });
        assert.ok([401, 403].includes(res.status), `${method} ${path} over TCP: ${res.status}`);
        await res.body?.cancel();
      }
      assert.equal("third_site" in JSON.parse(Deno.readTextFileSync(localJson)), false);
    }),
});

Deno.test({
  name:
    "zone change: saved in local.json, applied and gossiped at once; refused when another file sets the zone",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withAgent(async (a, localJson) => {
      const inc = (await self(a)).incarnation;
      const r = await put(a, "/agent/zone", "paris");
      assert.equal(r.status, 200);
      assert.equal(await r.json(), true);
      assert.equal(JSON.parse(Deno.readTextFileSync(localJson)).zone, "paris");
      const me = await self(a);
      assert.equal(me.zone, "paris");
      assert.ok(me.incarnation > inc, "a new incarnation carries the zone to the other members");
      assert.equal(await (await put(a, "/agent/zone", '"lyon"')).json(), true, "a JSON string works too");
      assert.equal((await self(a)).zone, "lyon");

      for (const bad of ["", "two words", "-dash", "x".repeat(64), "a/b", '"unclosed']) {
        const res = await put(a, "/agent/zone", bad);
        assert.equal(res.status, 400, JSON.stringify(bad));
        assert.match((await res.json()).error, /expected a zone name/);
      }
      assert.equal((await self(a)).zone, "lyon", "unchanged by the refused names");

      // another file of the configuration sets the zone after local.json: the change would not take
      Deno.writeTextFileSync(join(a.agent.config.cfgDir, "zz-zone.json"), '{"zone": "lyon"}');
      const before = Deno.readTextFileSync(localJson);
      const res = await put(a, "/agent/zone", "berlin");
      assert.equal(res.status, 409);
      assert.match((await res.json()).error, /zone is set again by .*zz-zone\.json/);
      assert.equal(Deno.readTextFileSync(localJson), before);
      assert.equal((await self(a)).zone, "lyon");
    }),
});

Deno.test({
  name: "configuration routes: a YAML local configuration is not rewritten; a new local.json is created 0600",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withAgent(async (a, localJson) => {
      const cfgDir = a.agent.config.cfgDir;
      // move the agent's parameters to another JSON file: local.json does not exist any more
      Deno.renameSync(localJson, join(cfgDir, "agent.json"));
      assert.deepEqual(await (await a.unix("/configuration")).json(), {});
      const r = await put(a, "/configuration/update", '{"log_level": "WARNING"}');
      assert.equal(r.status, 200, await r.text());
      assert.equal(Deno.statSync(localJson).mode! & 0o777, 0o600, "it may hold keys");
      assert.equal(a.agent.config.params.log_level, "WARNING");
      // a refused first update removes the local.json it created
      Deno.removeSync(localJson);
      const bad = await put(a, "/configuration/update", '{"log_level": "LOUD"}');
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
      assert.throws(() => Deno.statSync(localJson), Deno.errors.NotFound);

      Deno.writeTextFileSync(join(cfgDir, "local.yml"), "log_level: INFO\n");
      for (
        const res of [
          await a.unix("/configuration"),
          await put(a, "/configuration/update", '{"log_level": "INFO"}'),
        ]
      ) {
        assert.equal(res.status, 409);
        assert.match((await res.json()).error, /local\.yml/);
      }
      assert.throws(
        () => Deno.statSync(localJson),
        Deno.errors.NotFound,
        "no local.json beside the YAML one",
      );
    }),
});
