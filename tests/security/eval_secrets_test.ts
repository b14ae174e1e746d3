/**
 * Issue 10, hole 2: `POST /agent/evaluator/eval` was open over TCP, returned free configuration
 * secrets (`{configuration.mysql_password}`) and answered `grep("^root:", "/etc/shadow")` for any
 * file the agent could read, so a script recovered `http.token` and `encryption_key`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startAgent } from "../helpers.ts";

const KEY = "8xe6AVSd2Hcd0xOX9jRrYQ==";
const TOKEN = "s3cret-token-for-the-test";

Deno.test({
  name: "eval is a write route, refuses secret configuration and the agent's own or private files",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agent = await startAgent({
      name: "eval-secrets",
      params: {
        bootstrap: true,
        encryption_key: KEY,
        http: { token: TOKEN },
        mysql_password: "hunter2",
        mysql: { user: "monitor", password: "hunter3" },
        thresholds: { cpu: 90 },
        // the names collectors read: camelCase, and passwords inside URLs
        rabbitMQPass: "hunter4",
        mongodb_server: "mongodb://admin:hunter5@127.0.0.1:27017/admin",
        apacheStatusUrl: "http://monitor:hunter6@127.0.0.1/server-status",
        sort_order: "bypass", // a free value under a free name stays readable
      },
    });
    const tcp = `http://127.0.0.1:${agent.port}/agent/evaluator/eval`;
    const post = async (expr: string, token?: string) => {
      const r = await fetch(tcp, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ expr }),
      });
      return { status: r.status, body: await r.json() };
    };
    try {
      // no token over TCP: refused before anything is evaluated
      const anon = await post("{configuration.mysql_password}");
      assert.ok(anon.status === 401 || anon.status === 403, JSON.stringify(anon));
      assert.ok(!JSON.stringify(anon.body).includes("hunter2"));
      assert.equal((await post("1 + 1", "wrong-token")).status, 403);
      assert.deepEqual(await post("1 + 1", TOKEN), { status: 200, body: 2 });

      // with the token: free data is there, its secrets are not
      assert.deepEqual(await post("{configuration.thresholds.cpu}", TOKEN), { status: 200, body: 90 });
      const pw = await post("'{configuration.mysql_password}'", TOKEN);
      assert.equal(pw.status, 400);
      assert.match(pw.body.error, /looks like a secret/);
      assert.ok(!JSON.stringify(pw).includes("hunter2"));
      // an object is inserted with its secret values masked (whatever the expression then does)
      for (const expr of ["{configuration.mysql}", "'{configuration.mysql}'", "str({configuration.mysql})"]) {
        const obj = await post(expr, TOKEN);
        assert.ok(!JSON.stringify(obj).includes("hunter3"), JSON.stringify(obj));
      }
      assert.deepEqual(await post("'{configuration.mysql.user}'", TOKEN), { status: 200, body: "monitor" });
      const camel = await post("'{configuration.rabbitMQPass}'", TOKEN);
      assert.equal(camel.status, 400, JSON.stringify(camel));
      assert.match(camel.body.error, /looks like a secret \('rabbitMQPass'\)/);
      assert.deepEqual(await post("'{configuration.mongodb_server}'", TOKEN), {
        status: 200,
        body: "mongodb://admin:********@127.0.0.1:27017/admin",
      });
      assert.deepEqual(await post("'{configuration.apacheStatusUrl}'", TOKEN), {
        status: 200,
        body: "http://monitor:********@127.0.0.1/server-status",
      });
      assert.deepEqual(await post("'{configuration.sort_order}'", TOKEN), { status: 200, body: "bypass" });
      const whole = await post("str({configuration})", TOKEN);
      assert.doesNotMatch(JSON.stringify(whole), /hunter[2-6]/, JSON.stringify(whole));

      // files: readable by every user only, never the agent's own
      for (const path of ["/etc/shadow", agent.configFile, join(agent.dir, "data", "keyring.json")]) {
        const r = await post(`grep("e", ${JSON.stringify(path)})`, TOKEN);
        assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, /may not be read by expressions/, path);
      }
      const shadowProbe = await post(`grep("^root:", "/etc/shadow", True)`, TOKEN);
      assert.equal(shadowProbe.status, 400);
      // a public file still works
      assert.equal((await post(`grep("root", "/etc/passwd")`, TOKEN)).body, true);
    } finally {
      await agent.stop();
    }
  },
});
