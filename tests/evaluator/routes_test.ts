import assert from "node:assert/strict";
import { type EvalEnv, evaluateRaw, evaluatorRoutes, functionNames } from "../../lib/evaluator/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";

const env: EvalEnv = {
  collectors: {
    get: (n) => (n === "cpustats" ? { cpuall: { "%idle": 97.5 } } : undefined),
    names: () => ["cpustats"],
  },
  lookup: (p) => (p === "thresholds.cpuidle.critical" ? 1 : undefined),
};
const http = buildApp([evaluatorRoutes(() => env, { evaluateRaw, functionNames })], {
  token: "t0ken",
  maxBody: 1 << 20,
  log: silentLogger,
  counters: new Counters(),
});
/** Requests over the unix socket (trusted), like `kunai evaluator eval`. */
const app = {
  request: (path: string, init: RequestInit = {}) => http.request(path, init, { transport: "unix" }),
};

function b64(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

async function postForm(expr: string, raw = false): Promise<Response> {
  const body = raw ? `expr=${expr}` : new URLSearchParams({ expr: b64(expr) }).toString();
  return await app.request("/agent/evaluator/eval", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
}

Deno.test("GET /agent/evaluator/list answers the sorted function names", async () => {
  const res = await app.request("/agent/evaluator/list");
  assert.equal(res.status, 200);
  const names = await res.json();
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.includes("grep") && names.includes("ip_in_range") && names.length === 13);
});

Deno.test("POST /agent/evaluator/eval accepts the original base64 form and answers the JSON value", async () => {
  let res = await postForm("{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.critical}");
  assert.equal(res.status, 200);
  assert.equal(await res.json(), false);
  res = await postForm("'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})");
  assert.equal(await res.json(), "OK: cpu is great: 2.5%");
  res = await postForm("(1, 2.5, None, 'é')");
  assert.deepEqual(await res.json(), [1, 2.5, null, "é"]);
  // '+' sent unencoded in the form arrives as a space: still decoded
  const plusy = b64("len('?>?>')");
  assert.ok(plusy.includes("+") && plusy.includes("/"));
  res = await postForm(plusy, true);
  assert.equal(await res.json(), 4);
  // URL-safe base64 (- and _) is accepted too
  res = await postForm(b64("'>>>'").replaceAll("+", "-"), true);
  assert.equal(await res.json(), ">>>");
  res = await postForm(b64("2**10"), true);
  assert.equal(await res.json(), 1024);
});

Deno.test("POST /agent/evaluator/eval accepts JSON {expr}", async () => {
  const res = await app.request("/agent/evaluator/eval", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ expr: "7 // 2 + 0.5" }),
  });
  assert.equal(res.status, 200);
  assert.equal(await res.json(), 3.5);
  const inf = await app.request("/agent/evaluator/eval", {
    method: "POST",
    body: JSON.stringify({ expr: "1e308*10" }),
  });
  assert.equal(await inf.json(), "inf");
});

Deno.test("evaluation errors are 400 with kind and column", async () => {
  let res = await postForm("1 +");
  assert.equal(res.status, 400);
  let body = await res.json();
  assert.match(body.error, /unexpected end of expression/);
  assert.equal(body.detail.kind, "syntax");
  assert.equal(body.detail.column, 4);
  res = await postForm("{collector.redis.available} == False");
  body = await res.json();
  assert.equal(res.status, 400);
  assert.equal(body.detail.kind, "missing");
  res = await postForm("1/0");
  body = await res.json();
  assert.deepEqual([res.status, body.detail.kind, body.detail.column], [400, "runtime", 2]);
  res = await postForm("9**9**9**9");
  assert.equal((await res.json()).detail.kind, "limit");
});

Deno.test("bad requests are 400 with a message saying what to send", async () => {
  const cases: Array<[RequestInit, RegExp]> = [
    [
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "x=1" },
      /missing expr/,
    ],
    [
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "expr=%%%" },
      /base64/,
    ],
    [
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "expr=//79" },
      /UTF-8/,
    ],
    [{ method: "POST", headers: { "content-type": "application/json" }, body: "{nope" }, /invalid JSON/],
    [
      { method: "POST", headers: { "content-type": "application/json" }, body: '{"expr": 5}' },
      /string field "expr"/,
    ],
  ];
  for (const [init, message] of cases) {
    const res = await app.request("/agent/evaluator/eval", init);
    assert.equal(res.status, 400, String(init.body));
    assert.match((await res.json()).error, message);
  }
});
