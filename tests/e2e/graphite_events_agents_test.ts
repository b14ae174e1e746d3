/**
 * graphite-web's events API with real agents on loopback: `kunai event send` on one agent is an event
 * in the other's `/events/get_data` (inside its time window, not outside it), as is the membership
 * change of the join; `POST /events/` over TCP needs the token (401 without, 403 with a wrong one)
 * and, with it or over the unix socket, sends a cluster event with its tags that the other agent
 * answers when Grafana asks for those tags. Restarted, an agent still answers the events it had.
 */
import assert from "node:assert/strict";
import { type AgentProc, FAST_GOSSIP, startAgent, startCluster, until } from "../helpers.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

const ADDRS = ["127.0.0.151", "127.0.0.152"];
const TOKEN = "ev-token";

interface Ev {
  when: number;
  what: string;
  data: string;
  tags: string[];
  id: number;
}

Deno.test({
  name:
    "graphite events: a cluster event and a join are in every agent's /events/get_data; POST needs the token",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agents: AgentProc[] = [];
    try {
      const ports = await startCluster(
        agents,
        ADDRS,
        (i) => ({ name: `ge${i}`, params: { http: { token: TOKEN } } }),
      );
      const [a, b] = agents;
      const base = (i: number) => `http://${ADDRS[i]}:${ports[i]}`;
      const getData = async (i: number, q: string): Promise<Ev[]> => {
        const r = await fetch(`${base(i)}/events/get_data?${q}`);
        assert.equal(r.status, 200, `get_data?${q}`);
        return await r.json();
      };
      await until("b sees a alive", async () => {
        const r = await b.cli(["members", "--json"]);
        return r.code === 0 &&
          JSON.parse(r.stdout).filter((m: { state: string }) => m.state === "alive").length === 2;
      }, 20_000);

      const before = Math.floor(Date.now() / 1000);
      const sent = await a.cli(["event", "send", "deploy", "v42"]);
      assert.equal(sent.code, 0, sent.stderr);
      // the sender logged it as it answered: in its default window (until now) at once, not a second later
      assert.deepEqual((await getData(0, "tags=deploy")).map((e) => e.data), ["v42"]);
      const deploys = await until("b's get_data shows the deploy", async () => {
        const list = await getData(1, `from=${before}&until=now&tags=deploy`);
        return list.length ? list : null;
      }, 15_000);
      const after = Math.ceil(Date.now() / 1000);
      assert.equal(deploys.length, 1);
      const [d] = deploys;
      assert.deepEqual(Object.keys(d), ["when", "what", "data", "tags", "id"]);
      assert.equal(d.what, "deploy");
      assert.equal(d.data, "v42");
      assert.deepEqual(d.tags, ["kunai", "deploy", "ge0"]);
      assert.ok(d.when >= before && d.when <= after, `when ${d.when} in [${before}, ${after}]`);
      assert.ok(Number.isSafeInteger(d.id));
      // the same event, same id, on the sender; outside the window it is not there
      assert.deepEqual(await getData(0, `from=${before}&tags=deploy`), deploys);
      assert.deepEqual(await getData(1, `until=${before - 1}&tags=deploy`), []);
      assert.deepEqual(await getData(1, `from=${after + 60}&until=${after + 120}`), []);
      assert.deepEqual(await getData(1, "from=-1h&tags=deploy ge1"), [], "sent by ge0, not ge1");
      // the join: b saw ge0 join (member-join, tagged with the node)
      const joins = await getData(1, "from=-1h&tags=member-join ge0");
      assert.equal(joins.length, 1, JSON.stringify(joins));
      assert.match(joins[0].data, /^ge0 127\.0\.0\.151:\d+ \(incarnation \d+\)$/);
      assert.deepEqual(await getData(1, "from=-1h&tags=member-join ge0&members=0"), []);
      const bad = await fetch(`${base(1)}/events/get_data?from=tomorrow`);
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error, /from: 'tomorrow' is not a time/);

      // POST /events/ over TCP: a write route
      const body = JSON.stringify({ what: "release", tags: "web canary", data: "v43" });
      const none = await fetch(`${base(0)}/events/`, { method: "POST", body });
      assert.equal(none.status, 401);
      await none.body?.cancel();
      const wrong = await fetch(`${base(0)}/events/`, {
        method: "POST",
        body,
        headers: { authorization: "Bearer nope" },
      });
      assert.equal(wrong.status, 403);
      await wrong.body?.cancel();
      assert.deepEqual(await getData(1, "tags=release"), [], "nothing sent by the refused posts");
      const ok = await fetch(`${base(0)}/events/`, {
        method: "POST",
        body,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(ok.status, 200);
      const posted: Ev = await ok.json();
      assert.deepEqual(posted.tags, ["kunai", "release", "ge0", "web", "canary"]);
      const seen = await until("b has the posted event", async () => {
        const list = await getData(1, "tags=web canary");
        return list.length ? list : null;
      }, 15_000);
      assert.deepEqual(seen, [posted]);
      const badBody = await fetch(`${base(0)}/events/`, {
        method: "POST",
        body: '{"what": "release", "when": 5}',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(badBody.status, 400);
      assert.match((await badBody.json()).error, /"when"/);
      // over the unix socket no token is needed
      const client = Deno.createHttpClient({ proxy: { transport: "unix", path: b.socket } });
      try {
        const viaSocket = await fetch("http://kunai/events/", {
          client,
          method: "POST",
          body: JSON.stringify({ what: "maint", tags: ["db"] }),
        });
        assert.equal(viaSocket.status, 200);
        assert.deepEqual((await viaSocket.json()).tags, ["kunai", "maint", "ge1", "db"]);
      } finally {
        client.close();
      }
      await until(
        "a has the socket's event",
        async () => (await getData(0, "tags=maint db")).length === 1,
        15_000,
      );
      // the CLI lists the posted event with its tags
      const listed = JSON.parse((await b.cli(["event", "list", "--json", "--name", "release"])).stdout);
      assert.deepEqual(listed.map((e: { tags?: string[] }) => e.tags), [["web", "canary"]]);

      // restarted, an agent still has the events (gossip.db): Grafana's annotations do not vanish
      const kept = await getData(0, "from=-1h&members=0");
      assert.deepEqual(kept.map((e) => e.what), ["deploy", "release", "maint"]);
      await a.stop();
      agents[0] = await startAgent({
        name: "ge0",
        addr: ADDRS[0],
        port: ports[0],
        dir: a.dir,
        params: { gossip: FAST_GOSSIP, bootstrap: true, http: { token: TOKEN } },
      });
      assert.deepEqual(await getData(0, "from=-1h&members=0"), kept);
      const again = JSON.parse((await agents[0].cli(["event", "list", "--json"])).stdout);
      assert.deepEqual(again.map((e: { name: string; payload: string }) => `${e.name} ${e.payload}`), [
        "deploy v42",
        "release v43",
        "maint ",
      ]);
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
    }
  },
});
