/**
 * Event handlers with real agents on loopback: in a cluster sealed with a key, `kunai event send`
 * on one agent runs the other's handler (payload on stdin); without a key, the other agent logs the
 * event but runs nothing (an unauthenticated event from the network), while the sender's own
 * handler runs; `kunai event handlers` lists both cases. Membership events (`member-join`,
 * `member-leave`) run the other agent's handler with the node's line on stdin only with a key.
 * Queries (`kunai event query`): with a key both agents answer from their `query:` handler; without
 * one the other agent refuses, and its peer route refuses a question not sealed with the key; a
 * sealed question captured and sent again after the agent restarted is refused as a replay.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Keyring } from "../../lib/transport/keyring.ts";
import { PeerEnvelope } from "../../lib/transport/envelope.ts";
import { type AgentProc, FAST_GOSSIP, startAgent, startCluster, until } from "../helpers.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

function handlerFiles(out: string) {
  return {
    "handlers/deploy.json": {
      event_handler: { events: ["deploy-*"], command: `cat > ${out}/"$KUNAI_SELF_NAME-$KUNAI_EVENT_NAME"` },
    },
    "handlers/whoami.json": {
      event_handler: { events: ["query:whoami"], command: `echo "$KUNAI_SELF_NAME"; cat` },
    },
    "handlers/members.json": {
      event_handler: {
        events: ["member-join", "member-leave"],
        command: `cat >> ${out}/"$KUNAI_SELF_NAME-$KUNAI_EVENT_NAME"`,
      },
    },
  };
}

async function members(a: AgentProc): Promise<number> {
  const r = await a.cli(["members", "--json"]);
  return r.code === 0 ? JSON.parse(r.stdout).filter((m: { state: string }) => m.state === "alive").length : 0;
}

function read(p: string): string | null {
  try {
    return Deno.readTextFileSync(p);
  } catch {
    return null;
  }
}

for (const keyed of [true, false]) {
  Deno.test({
    name: keyed
      ? "event handlers: with a cluster key, an event sent on one agent runs the other's handler"
      : "event handlers: without a cluster key, only the sender's own handler runs",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const out = Deno.makeTempDirSync({ prefix: "kunai-evh-e2e-" });
      const agents: AgentProc[] = [];
      const addrs = keyed ? ["127.0.0.101", "127.0.0.102"] : ["127.0.0.103", "127.0.0.104"];
      try {
        await startCluster(agents, addrs, (i) => ({
          name: `eh${i}`,
          params: keyed ? { encryption_key: key } : {},
          files: handlerFiles(out),
        }));
        const [a, b] = agents;
        await until("both members alive", async () => (await members(b)) === 2, 20_000);
        let r = await a.cli(["event", "send", "deploy-web", "release 42; $(id)"]);
        assert.equal(r.code, 0, r.stderr);
        await until("b logged the event", async () => {
          const l = await b.cli(["event", "list", "--json"]);
          return l.code === 0 && JSON.parse(l.stdout).length === 1;
        }, 15_000);
        // the sender's own handler always runs: its event came through its write route
        await until("a's handler ran", () => read(join(out, "eh0-deploy-web")) || undefined, 15_000);
        assert.equal(read(join(out, "eh0-deploy-web")), "release 42; $(id)");
        const logged = JSON.parse((await b.cli(["event", "list", "--json"])).stdout)[0];
        assert.equal(logged.authenticated, keyed);
        if (keyed) {
          await until("b's handler ran", () => read(join(out, "eh1-deploy-web")) || undefined, 15_000);
          assert.equal(read(join(out, "eh1-deploy-web")), "release 42; $(id)");
        } else {
          await until("b counted the skip", async () => {
            const l = await b.cli(["event", "handlers", "--json"]);
            return l.code === 0 && JSON.parse(l.stdout)[0]?.skipped_unauthenticated === 1;
          }, 15_000);
          assert.equal(read(join(out, "eh1-deploy-web")), null, "no command for an unauthenticated event");
          assert.match(
            b.stderr(),
            /event handlers handlers\/deploy, handlers\/members, handlers\/whoami run only for events sent by this agent/,
          );
        }
        // membership: b saw a join (a's line on stdin) only when the records are vouched for by the key
        const joined = join(out, "eh1-member-join");
        if (keyed) {
          // the handler's `cat > file` makes the file before it writes: wait for the line
          await until("b's member-join handler ran", () => read(joined)?.includes("\n") || undefined, 15_000);
          assert.match(
            read(joined)!,
            new RegExp(`^eh0\t${addrs[0].replaceAll(".", "\\.")}\t[0-9a-f]+\t[^\t\n]*\n`, "m"),
          );
        } else {
          await until("b skipped the member-join", async () => {
            const l = await b.cli(["event", "handlers", "--json"]);
            return l.code === 0 && JSON.parse(l.stdout)[1]?.skipped_unauthenticated >= 1;
          }, 15_000);
          assert.equal(read(joined), null, "no command for a membership event without a key");
        }
        // a query: every member's handler answers, with a key; without one only the asker's own
        r = await a.cli(["event", "query", "whoami", "hi there", "--json"]);
        assert.equal(r.code, keyed ? 0 : 1, r.stderr);
        const q = JSON.parse(r.stdout);
        assert.equal(q.targets, 2);
        assert.deepEqual(q.answers.map((x: { node: string; status: string }) => [x.node, x.status]), [
          ["eh0", "ok"],
          ["eh1", keyed ? "ok" : "refused"],
        ]);
        assert.equal(q.answers[0].output, "eh0\nhi there");
        if (keyed) assert.equal(q.answers[1].output, "eh1\nhi there");
        r = await a.cli(["event", "query", "whoami", "--node", "eh1"]);
        assert.match(r.stdout, keyed ? /^eh1\s+ok\s+eh1$/m : /^eh1\s+refused\s+queries from other agents/m);
        assert.match(r.stdout, /^1 member\(s\) asked: /m);
        if (keyed) {
          // the peer route takes only questions sealed with the cluster key
          const now = Date.now();
          const forged = {
            v: 1,
            qid: "x",
            name: "whoami",
            payload: "",
            from: "x",
            from_uuid: "x",
            issued: now,
            deadline: now + 5000,
          };
          const res = await fetch(`http://${addrs[1]}:${b.port}/query/run`, {
            method: "POST",
            body: JSON.stringify(forged),
          });
          assert.equal(res.status, 401, await res.text());
        }
        r = await b.cli(["event", "handlers"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^Handler\s+Events\s+Applies\s+Runs\s+Failed\s+Skipped\s+Last run$/m);
        assert.match(
          r.stdout,
          keyed
            ? /^handlers\/deploy\s+deploy-\*\s+yes\s+1\s+0\s+0\s+\S+ \S+ deploy-web: exit 0 \(\d+ ms\)$/m
            : /^handlers\/deploy\s+deploy-\*\s+yes\s+0\s+0\s+1\s+-$/m,
        );
        if (keyed) {
          await a.stop();
          const left = join(out, "eh1-member-leave");
          await until("b's member-leave handler ran", () => read(left) !== null, 15_000);
          assert.match(read(left)!, /^eh0\t/);
          // a sealed question captured on the network and sent again once b restarted (the
          // envelope's memory of it gone, its 30 s window not): b knows it answered it already
          const env = new PeerEnvelope(await Keyring.create([key]), { now: () => Date.now() });
          const sent = Date.now();
          const question = { v: 1, qid: crypto.randomUUID(), name: "whoami", payload: "captured" };
          const sealed = await env.seal(new TextEncoder().encode(JSON.stringify({
            ...question,
            from: "eh0",
            from_uuid: "u0",
            issued: sent,
            deadline: sent + 25_000,
          })));
          const ask = async (to: AgentProc) => {
            const res = await fetch(`http://${addrs[1]}:${to.port}/query/run`, {
              method: "POST",
              body: sealed as Uint8Array<ArrayBuffer>,
            });
            assert.equal(res.status, 200);
            const opened = await env.open(new Uint8Array(await res.arrayBuffer()));
            assert.ok(opened.ok);
            return JSON.parse(new TextDecoder().decode(opened.plain));
          };
          const first = await ask(b);
          assert.deepEqual([first.status, first.output], ["ok", "eh1\ncaptured"]);
          await b.stop();
          agents[1] = await startAgent({
            name: "eh1",
            addr: addrs[1],
            port: b.port,
            dir: b.dir,
            params: { gossip: FAST_GOSSIP, encryption_key: key },
          });
          const replayed = await ask(agents[1]);
          assert.deepEqual([replayed.status, replayed.error], [
            "refused",
            "replay: this question was answered before",
          ]);
          assert.match(agents[1].stderr(), /query whoami from eh0 refused: replay/);
        }
      } finally {
        for (const ag of agents) await ag.stop();
        Deno.removeSync(out, { recursive: true });
      }
    },
  });
}
