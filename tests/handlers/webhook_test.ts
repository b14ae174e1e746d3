/**
 * Webhook handlers against a real HTTP server on loopback: a check change is POSTed as JSON (or as
 * Slack's `{"text"}` from the mail templates), a refusal is retried with backoff and delivered
 * once the server accepts, the URL's secret path and the headers never show in the API or the logs,
 * and a webhook handler without an http(s) url is a configuration error.
 */
import assert from "node:assert/strict";
import { RealClock } from "../../lib/clock/mod.ts";
import { resolveConfig } from "../../lib/config/mod.ts";
import { createHandlers } from "../../lib/handlers/mod.ts";
import { postWebhook, queuedWebhookBody, scrubUrl } from "../../lib/handlers/webhook.ts";
import type { HandlerDef } from "../../lib/handlers/handler_def.ts";
import { freePort, makeTestCtx, tempDir, until } from "../helpers.ts";
import { change, memberRecord } from "./fixtures.ts";

const CHANGE = change("critical", "ok", { output: "CPU is critical" });

/** A webhook receiver on loopback: answers `refuse` times with 500, then 200. */
function receiver(refuse = 0) {
  const got: Array<{ path: string; headers: Headers; body: string }> = [];
  let left = refuse;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({ path: new URL(req.url).pathname, headers: req.headers, body: await req.text() });
    if (left > 0) {
      left--;
      return new Response("busy", { status: 500 });
    }
    return new Response("ok");
  });
  return { got, server, url: `http://127.0.0.1:${server.addr.port}/hooks/T000/SECRET` };
}

function setup(handler: Record<string, unknown>, files: Record<string, string> = {}) {
  const ctx = makeTestCtx({
    clock: new RealClock(),
    name: "web-1",
    files: { "handlers/default.json": { handler: { type: "webhook", ...handler } }, ...files },
  });
  const self = memberRecord(ctx.node.uuid, "web-1");
  const logs: string[] = [];
  const base = ctx.log;
  ctx.log = { ...base, info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m) };
  return { ctx, logs, h: createHandlers(ctx, { membership: { self: () => self } }) };
}

/** Starts the handlers, runs `body`, then stops them, the receiver and the context whatever happened. */
async function running(
  h: ReturnType<typeof createHandlers>,
  ctx: { cleanup(): void },
  r: { server: Deno.HttpServer },
  body: () => Promise<void>,
): Promise<void> {
  try {
    await h.start();
    await body();
  } finally {
    await h.stop();
    await r.server.shutdown();
    ctx.cleanup();
  }
}

Deno.test("a webhook handler POSTs the check change as JSON; a refusal is retried until accepted", async () => {
  const r = receiver(2);
  const { ctx, h, logs } = setup({
    url: r.url,
    headers: { authorization: "Bearer hook-token" },
    retry_interval: "100ms",
    retry_max_interval: "200ms",
  });
  await running(h, ctx, r, async () => {
    ctx.bus.emit("check.changed", CHANGE);
    await until("delivered after two refusals", () => h.stats().sent === 1, 10_000);
    assert.equal(r.got.length, 3);
    const last = r.got[2];
    assert.equal(last.path, "/hooks/T000/SECRET");
    assert.equal(last.headers.get("authorization"), "Bearer hook-token");
    assert.equal(last.headers.get("content-type"), "application/json");
    const body = JSON.parse(last.body);
    assert.equal(body.kind, "check");
    assert.equal(body.check.id, "linux/cpu");
    assert.equal(body.check.state, "critical");
    assert.equal(body.node.name, "web-1");
    assert.equal(JSON.stringify(body).includes("hook-token"), false, "the payload never carries the headers");
    const listed = JSON.stringify(h.list());
    assert.equal(listed.includes("SECRET") || listed.includes("hook-token"), false, listed);
    assert.match(listed, /"url":"http:\/\/127\.0\.0\.1:\d+\/…"/);
    assert.ok(
      logs.some((l) => /webhook "check linux\/cpu: critical" .*failed \(.*answered HTTP 500: busy\)/.test(l)),
    );
    assert.ok(logs.some((l) => /sent to http:\/\/127\.0\.0\.1:\d+\/… after 2 failed attempt\(s\)/.test(l)));
    assert.equal(logs.join("\n").includes("SECRET"), false, "the URL's secret path is not logged");
  });
});

Deno.test("a network error does not carry the webhook's secret path: not in the error, the log or the queue", async () => {
  const port = freePort(); // nothing listens there: fetch fails with the URL in its cause
  const urls = [
    `http://127.0.0.1:${port}/services/T000/B000/SECRET`,
    `http://127.0.0.1:${port}/services/T000/B000/SECRET?token=QSECRET#FSECRET`,
    `http://user:PWSECRET@127.0.0.1:${port}/a b/SECRET-é`, // fetch prints it percent-encoded
  ];
  for (const url of urls) {
    const def = { url, headers: {}, timeout: 5_000 } as unknown as HandlerDef;
    const err = await postWebhook(def, "{}").then(() => null, (e: Error) => e);
    assert.ok(err, url);
    assert.doesNotMatch(err.message, /SECRET/, err.message);
    assert.match(err.message, new RegExp(`^http://127\\.0\\.0\\.1:${port}/…: `), err.message);
  }
  // through the handlers: the warning and the queued row's last_error
  const r = {
    server: Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response()),
  };
  const { ctx, h, logs } = setup({ url: urls[1], retry_interval: "1h" });
  await running(h, ctx, r, async () => {
    ctx.bus.emit("check.changed", CHANGE);
    await until("the first attempt failed", () => logs.some((l) => / failed \(/.test(l)), 10_000);
    assert.doesNotMatch(logs.join("\n"), /SECRET/, logs.join("\n"));
    assert.doesNotMatch(JSON.stringify(h.list()), /SECRET/);
  });
});

Deno.test("a webhook is delivered on any 2xx; a redirect or another status is a failure", async () => {
  let status = 204;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      status === 302
        ? new Response(null, { status, headers: { location: "http://127.0.0.1:1/elsewhere" } })
        : new Response(null, { status }),
  );
  const def = {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    headers: {},
    timeout: 5_000,
  } as unknown as HandlerDef;
  try {
    for (const ok of [200, 204, 299]) {
      status = ok;
      await postWebhook(def, "{}");
    }
    for (const bad of [300, 302, 304, 400]) {
      status = bad;
      await assert.rejects(postWebhook(def, "{}"), new RegExp(`answered HTTP ${bad}`), String(bad));
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("scrubUrl finds the URL as configured, normalized, without its query and with another case", () => {
  const url = "https://U:PW@Hooks.Example.com/services/T0/B0/XyZ?k=v";
  for (
    const text of [
      "error sending request for url (https://hooks.example.com/services/T0/B0/XyZ?k=v): dns error",
      "at https://hooks.example.com/services/T0/B0/XyZ, then",
      `as given ${url} end`,
      "HTTPS://U:PW@HOOKS.EXAMPLE.COM/services/T0/B0/XyZ",
    ]
  ) {
    const out = scrubUrl(text, url);
    assert.doesNotMatch(out, /XyZ|PW/, out);
    assert.match(out, /https:\/\/hooks\.example\.com\/…/, out);
  }
  // another host, or a longer port, is not this URL
  assert.equal(scrubUrl("https://hooks.example.community/x", url), "https://hooks.example.community/x");
});

Deno.test("format slack sends {text} rendered from the mail templates; handlers test posts a sample", async () => {
  const r = receiver();
  const { ctx, h } = setup({ url: r.url, format: "slack" });
  await running(h, ctx, r, async () => {
    ctx.bus.emit("check.changed", CHANGE);
    await until("delivered", () => h.stats().sent === 1, 10_000);
    const body = JSON.parse(r.got[0].body);
    assert.deepEqual(Object.keys(body), ["text"]);
    assert.match(
      body.text,
      /^Check linux\/cpu switched to critical state on web-1\nThe check switch state at/,
    );
    // a check's output is network data: Slack must not read <!channel> or <http://x|y> in it
    ctx.bus.emit("check.changed", { ...CHANGE, output: "disk <!channel> & <http://evil|click>" });
    await until("delivered", () => h.stats().sent === 2, 10_000);
    const text = JSON.parse(r.got[1].body).text;
    assert.match(text, /disk &lt;!channel&gt; &amp; &lt;http:\/\/evil\|click&gt;/);
    assert.doesNotMatch(text, /<!channel>/);
    const t = await h.test("default");
    assert.match(t.subject, /kunai\/handler-test/);
    assert.equal(r.got.length, 3);
    assert.match(JSON.parse(r.got[2].body).text, /test notification of handler handlers\/default/);
  });
});

/**
 * The words Mattermost's server looks up as mentions (StandardMentionParser.ProcessText): text split on
 * every character but letters, digits, `:`, `.`, `-`, `_` and `@`; leading `:.-_` trimmed; a word with
 * `.`, `-` or `:` split again on them. Those starting with `@` and a letter or digit notify.
 */
function mattermostMentions(text: string): string[] {
  const out = new Set<string>();
  for (let word of text.split(/[^:.\-_@\p{L}\p{N}]+/u)) {
    word = word.replace(/^[:.\-_]+/, "");
    for (const w of [word, ...word.split(/[.\-:]+/)]) if (/^@[\p{L}\p{N}]/u.test(w)) out.add(w);
  }
  return [...out];
}

Deno.test("mattermostMentions finds what Mattermost notifies on (the oracle of the next test can fail)", () => {
  assert.deepEqual(mattermostMentions("cc @alice, x.@here (@ALL) _@channel root@db"), [
    "@alice",
    "@here",
    "@ALL",
    "@channel",
  ]);
});

Deno.test("format slack: @channel, @here, @all or @user in node names, tags and outputs notify nobody", async () => {
  const r = receiver();
  const { ctx, h } = setup({ url: r.url, format: "slack", on_node_change: true });
  const said = "disk full @channel @here @ALL cc @alice.smith x.@here root@db-1";
  await running(h, ctx, r, async () => {
    ctx.bus.emit("check.changed", { ...CHANGE, output: said, name: "@here/cpu" });
    ctx.bus.emit("member.dead", { ...memberRecord("2".repeat(40), "db@channel"), tags: ["@all", "_@here"] });
    await until("both delivered", () => h.stats().sent === 2, 10_000);
    for (const got of r.got) {
      const text: string = JSON.parse(got.body).text;
      assert.deepEqual(mattermostMentions(text), [], text);
      // Slack's link_names and Rocket.Chat read `@` followed by a name
      assert.doesNotMatch(text, /@[\p{L}\p{N}_.:-]/u, text);
    }
    // a human reads the same text: only zero-width spaces were added
    const [check, node] = r.got.map((g) => JSON.parse(g.body).text.replaceAll("\u200B", ""));
    assert.match(check, /^Check @here\/cpu switched to critical state on web-1\n/);
    assert.ok(check.includes(`output:\n${said}\n`), check);
    assert.match(node, /^Node db@channel is dead\nThe node db@channel \(/);
    assert.match(node, /\nTags: @all,_@here\n/);
  });
});

Deno.test("format slack: a Markdown link or image in a node's name or output is not one in Mattermost", async () => {
  const r = receiver();
  const { ctx, h } = setup({ url: r.url, format: "slack" });
  // Mattermost renders Markdown: a forged output could show "Reset your password" linking anywhere, or
  // load an image from anywhere in every reader's client; a reference link needs `]:` or `][`
  const said = "[Reset your password](http://evil/) ![x](http://evil/p.png) [a][r]\n[r]: http://evil/";
  await running(h, ctx, r, async () => {
    ctx.bus.emit("check.changed", { ...CHANGE, output: said });
    await until("delivered", () => h.stats().sent === 1, 10_000);
    const text: string = JSON.parse(r.got[0].body).text;
    assert.doesNotMatch(text, /\]\(|\]\[|\]:/, text);
    assert.ok(text.replaceAll("\u200B", "").includes(said), "reads the same");
  });
});

Deno.test("format slack: the admin's own template text is sent as written and may mention on purpose", async () => {
  const r = receiver();
  const { ctx, h } = setup({ url: r.url, format: "slack", text_template: "chat.tpl" }, {
    "templates/chat.tpl": "<!here> @channel: {{ check.output }} <https://wiki/runbook|runbook> & more\n",
  });
  await running(h, ctx, r, async () => {
    ctx.bus.emit("check.changed", { ...CHANGE, output: "<!channel> @all & <http://evil|click>" });
    await until("delivered", () => h.stats().sent === 1, 10_000);
    const text: string = JSON.parse(r.got[0].body).text;
    assert.equal(
      text.split("\n")[1],
      "<!here> @channel: &lt;!channel&gt; @\u200Ball &amp; &lt;http://evil|click&gt; <https://wiki/runbook|runbook> & more",
    );
  });
});

Deno.test("a webhook handler needs an http(s) url: a configuration error naming the field", () => {
  for (const url of [undefined, "", "ftp://x/y", "not a url"]) {
    using t = tempDir("kunai-hook-");
    Deno.writeTextFileSync(
      `${t.dir}/h.json`,
      JSON.stringify({ handler: { type: "webhook", ...(url === undefined ? {} : { url }) } }),
    );
    assert.throws(
      () => resolveConfig({ cfgDir: t.dir, env: { HOME: t.dir } }),
      /h\.json: handler\.url: a webhook handler needs an http:\/\/ or https:\/\/ url/,
      String(url),
    );
  }
});

Deno.test("the queue trim (max_queued) never drops the notification being sent", async () => {
  const gate = Promise.withResolvers<void>();
  const got: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push(JSON.parse(await req.text()).check.id);
    if (got.length === 1) await gate.promise; // a slow endpoint: the first POST is in flight
    return new Response("ok");
  });
  const r = { got: [], server, url: `http://127.0.0.1:${server.addr.port}/hook` };
  const { ctx, h, logs } = setup({ url: r.url, max_queued: 1, max_per_hour: 0 });
  // (the gate opens whatever happens: the server's shutdown waits for the POST it holds)
  await running(h, ctx, r, async () => {
    try {
      ctx.bus.emit("check.changed", change("critical", "ok", { id: "c1", name: "c1" }));
      await until("the first POST in flight", () => got.length === 1, 10_000);
      ctx.bus.emit("check.changed", change("critical", "ok", { id: "c2", name: "c2" }));
      assert.equal(h.stats().dropped, 0, logs.join("\n"));
      assert.equal(
        ctx.counters.get("handler_webhooks_total", { handler: "handlers/default", result: "queue_full" }),
        0,
      );
      gate.resolve();
      await until("both delivered", () => h.stats().sent === 2, 10_000);
      assert.deepEqual(got, ["c1", "c2"]);
      assert.equal(h.stats().dropped, 0);
    } finally {
      gate.resolve();
    }
  });
});

Deno.test("a reload that changes a webhook's format sends what waits in the new format", async () => {
  let accept = false, refused = 0;
  const got: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.text();
    if (!accept) return refused++, new Response("down", { status: 503 });
    // a Slack endpoint refuses anything but {"text"}
    const ok = Object.keys(JSON.parse(body)).join() === "text";
    got.push(body);
    return new Response(ok ? "ok" : "invalid_payload", { status: ok ? 200 : 400 });
  });
  const url = `http://127.0.0.1:${server.addr.port}/hooks/x`;
  const { ctx, h } = setup({ url, retry_interval: "100ms", retry_max_interval: "100ms" });
  await running(h, ctx, { server }, async () => {
    ctx.bus.emit("check.changed", { ...CHANGE, output: "load <5>" });
    await until("first attempt refused", () => refused > 0, 5000);
    assert.equal(h.stats().queued, 1);
    const def = ctx.config.objects.handler["handlers/default"];
    ctx.config.objects.handler["handlers/default"] = {
      ...def,
      value: { ...def.value as Record<string, unknown>, format: "slack" },
    };
    ctx.bus.emit("config.reloaded", { files: [] });
    accept = true;
    await until("delivered", () => h.stats().sent === 1, 10_000);
    assert.deepEqual(got.map((b) => JSON.parse(b)), [{ text: "check linux/cpu: critical\nload &lt;5&gt;" }]);
  });
});

Deno.test("queuedWebhookBody: a Slack text queued for a handler now in json becomes a JSON document", () => {
  const m = {
    subject: "Check x: critical",
    body: '{"text":"Check x: critical\\nmore"}',
    subject_key: "check:x",
    created: 5,
  };
  assert.deepEqual(JSON.parse(queuedWebhookBody("json", m)), {
    kind: "check",
    time: 5,
    subject: "Check x: critical",
    text: "Check x: critical\nmore",
  });
  assert.equal(queuedWebhookBody("slack", m), m.body, "already in its shape");
  const doc = { ...m, body: JSON.stringify({ kind: "node", time: 5, node: { name: "n1" }, event: "dead" }) };
  assert.equal(queuedWebhookBody("json", doc), doc.body);
  assert.deepEqual(JSON.parse(queuedWebhookBody("slack", { ...doc, subject: "node n1: dead" })), {
    text: "node n1: dead",
  });
});
