/**
 * 2 real agents (127.0.31.1-2): `kva` tagged kv, `web` not, with a generator reading a KV key. A
 * restart of `web` renders nothing before its join (the file and its command stay as they were:
 * before, it wrote `backend ` and ran the command); with `kva` stopped the store is unavailable
 * on `web` (503, exit 1, naming kva) rather than answered from `web` alone, and the file keeps the
 * last value.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentClient } from "../../lib/client/mod.ts";
import { type AgentProc, FAST_GOSSIP, freePort, startAgent, tempDir, until } from "../helpers.ts";

const A = "127.0.31.1", B = "127.0.31.2";

Deno.test({
  name: "e2e: a restart renders after the join, and a KV with its kv node down is unavailable, not local",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agents: AgentProc[] = [];
    const [portA, portB] = [freePort(A), freePort(B)];
    using tmp = tempDir("kunai-kvdown-");
    const out = join(tmp.dir, "out.conf"), runs = join(tmp.dir, "runs");
    try {
      const kva = await startAgent({
        name: "kva",
        addr: A,
        port: portA,
        params: { tags: ["kv"], bootstrap: true, gossip: FAST_GOSSIP },
      });
      agents.push(kva);
      const put = await kva.cli(["kv", "put", "app/backend", "10.0.0.5"]);
      assert.equal(put.code, 0, put.stderr);

      const webOpts = {
        name: "web",
        addr: B,
        port: portB,
        dir: join(tmp.dir, "web"),
        params: { tags: ["web"], seeds: [`${A}:${portA}`], gossip: FAST_GOSSIP },
        files: {
          "generators/be.json": {
            generator: { path: out, template: "be.tpl", apply_on: "*", command: `echo run >> '${runs}'` },
          },
          "generators/templates/be.tpl": 'backend {{ kv("app/backend") }}\n',
        },
      };
      let web = await startAgent(webOpts);
      agents.push(web);
      const read = (p: string) => {
        try {
          return Deno.readTextFileSync(p);
        } catch {
          return "";
        }
      };
      await until("the generator's file", () => read(out) === "backend 10.0.0.5\n", 20_000, 100);
      await until("its command", () => read(runs) === "run\n", 10_000, 100);

      // the restart: nothing written or run before the join, and after it the same file: no command
      await web.stop();
      agents.pop();
      web = await startAgent(webOpts);
      agents.push(web);
      const generators = async () => {
        const c = new AgentClient({ socket: web.socket });
        try {
          return await c.json<Array<{ renders: number; last_error: string }>>("GET", "/agent/generators");
        } finally {
          c.close();
        }
      };
      await until(
        "a render after the restart",
        async () => (await generators())[0].renders >= 1,
        20_000,
        100,
      );
      assert.equal((await generators())[0].last_error, "");
      assert.equal(read(out), "backend 10.0.0.5\n");
      assert.equal(read(runs), "run\n", "the command did not run again");
      assert.doesNotMatch(read(join(web.dir, "log", "daemon.log")), /wrote .*out\.conf \(9 bytes\)/);

      // the kv node stops: the store is unavailable on web, not answered from web alone
      const watching = web.cli(["kv", "watch", "app/backend", "--count", "1", "--json"]);
      await new Promise((r) => setTimeout(r, 1000)); // its first read done: it waits on kva
      await kva.stop();
      agents.shift();
      const down = /the KV store is unavailable: no node tagged kv is alive \(kva left\)/;
      const get = await until(
        "a 503 on web",
        async () => {
          const r = await web.cli(["kv", "get", "app/backend"]);
          return r.code !== 0 && down.test(r.stderr) ? r : null;
        },
        20_000,
        200,
      );
      assert.equal(get.code, 1);
      const w = await web.cli(["kv", "put", "app/other", "x"]);
      assert.equal(w.code, 1);
      assert.match(w.stderr, down);
      const info = await web.cli(["info", "--json"]);
      assert.match(JSON.parse(info.stdout).kv.unavailable, down);
      assert.equal(read(out), "backend 10.0.0.5\n", "the file keeps the last value");

      // kva back: the store answers again, and the watch, which waited it out, sees the next change
      const back = await startAgent({
        name: "kva",
        addr: A,
        port: portA,
        dir: kva.dir,
        params: { tags: ["kv"], bootstrap: true, gossip: FAST_GOSSIP },
      });
      agents.push(back);
      await until(
        "kva in web's ring",
        async () => (await web.cli(["kv", "get", "app/backend"])).code === 0,
        20_000,
        200,
      );
      assert.equal((await back.cli(["kv", "put", "app/backend", "10.0.0.6"])).code, 0);
      const watched = await watching;
      assert.equal(watched.code, 0, watched.stderr);
      assert.equal(JSON.parse(watched.stdout.trim()).key, "app/backend");
      assert.match(watched.stderr, /unavailable.*asking again in \d+ s/);
    } finally {
      for (const a of agents) await a.stop();
    }
  },
});
