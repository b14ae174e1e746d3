/**
 * Issue 10, hole 3: `grep("a*a*a*b", FILE, True)` on a file with a 3 000-character line ran a
 * polynomial regexp on the agent's main thread: the API stopped answering and SIGTERM was ignored.
 * Now the call runs in the evaluator's Worker under a deadline: the agent keeps answering, the
 * evaluation ends with a `limit` error, and SIGTERM stops the agent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startAgent } from "../helpers.ts";

function unixClient(socket: string): Deno.HttpClient {
  return Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
}

Deno.test({
  name: "a pathological grep costs one timeout: the agent keeps answering and SIGTERM works",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agent = await startAgent({ name: "eval-hang", params: { bootstrap: true } });
    const file = join(agent.dir, "long-line.txt");
    Deno.writeTextFileSync(file, "a".repeat(3000) + "\n");
    Deno.chmodSync(agent.dir, 0o755);
    Deno.chmodSync(file, 0o644);
    const client = unixClient(agent.socket);
    try {
      const expr = `grep("a*a*a*b", ${JSON.stringify(file)}, True)`;
      const evaluation = fetch("http://kunai/agent/evaluator/eval", {
        client,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ expr }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
      let settled = false;
      evaluation.finally(() => settled = true);
      // while the regexp burns its Worker, the API answers /agent/info (bounded loop)
      let answered = 0;
      for (let i = 0; i < 5 && !settled; i++) {
        const info = await fetch(`http://127.0.0.1:${agent.port}/agent/info`, {
          signal: AbortSignal.timeout(4000),
        });
        assert.equal(info.status, 200);
        await info.body?.cancel();
        answered++;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(answered >= 1, "the agent answered while the grep ran");
      const r = await evaluation;
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.detail.kind, "limit", JSON.stringify(r.body));
      assert.match(r.body.error, /grep\(\) did not finish within/);
      // and a normal grep works again (the Worker was replaced)
      const ok = await fetch("http://kunai/agent/evaluator/eval", {
        client,
        method: "POST",
        body: JSON.stringify({ expr: `grep("aaa", ${JSON.stringify(file)})` }),
      });
      assert.deepEqual([ok.status, await ok.json()], [200, true]);
    } finally {
      client.close();
      const st = await agent.stop(8000);
      // SIGTERM ended it (not the SIGKILL fallback of stop())
      assert.equal(st.signal, null, `agent needed ${st.signal}`);
    }
  },
});
