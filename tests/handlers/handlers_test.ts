import assert from "node:assert/strict";
import { join } from "node:path";
import { type Clock, RealClock, VirtualClock } from "../../lib/clock/mod.ts";
import { steppedClock } from "../clock_step.ts";
import { buildApp } from "../../lib/http/mod.ts";
import {
  createHandlers,
  findHandler,
  handlerDefs,
  HourlyLimiter,
  retryDelay,
} from "../../lib/handlers/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { createChecks } from "../../lib/checks/mod.ts";
import { freePort, makeTestCtx, type TestCtx, until } from "../helpers.ts";
import { SmtpFixture } from "./smtp_fixture.ts";
import { change, memberRecord } from "./fixtures.ts";

const HOST = "127.0.0.41";

function record(ctx: TestCtx): MemberRecord {
  return memberRecord(ctx.node.uuid, ctx.node.name);
}

/** Records every log line of the handlers (level + text) while still logging normally. */
function captureLog(ctx: TestCtx): string[] {
  const lines: string[] = [];
  const base = ctx.log;
  const wrap = (level: string, fn: (m: string, ...r: unknown[]) => void) => (m: string, ...r: unknown[]) => {
    lines.push(`${level} ${m}`);
    fn.call(base, m, ...r);
  };
  ctx.log = {
    debug: wrap("DEBUG", base.debug),
    info: wrap("INFO", base.info),
    warn: wrap("WARNING", base.warn),
    error: wrap("ERROR", base.error),
    child: (p) => base.child(p),
  };
  return lines;
}

function setup(port: number, handler: Record<string, unknown> = {}, clock: Clock = new RealClock()) {
  const ctx = makeTestCtx({
    clock,
    name: "web-1",
    files: {
      "handlers/default.json": {
        handler: {
          type: "mail",
          contacts: ["ops@example.com"],
          addr_from: "kunai@example.com",
          smtp_server: HOST,
          smtp_port: port,
          smtp_starttls: "never",
          retry_interval: "150ms",
          retry_max_interval: "300ms",
          ...handler,
        },
      },
    },
  });
  const lines = captureLog(ctx);
  const h = createHandlers(ctx, { membership: { self: () => record(ctx) } });
  return { ctx, h, lines };
}

Deno.test("a check going OK -> CRITICAL is mailed to the contacts with the rendered subject and body", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const { ctx, h, lines } = setup(port);
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until("the mail", () => smtp.mails.length === 1, 10_000);
    const m = smtp.mails[0];
    assert.deepEqual(m.to, ["ops@example.com"]);
    assert.equal(m.from, "kunai@example.com");
    assert.equal(m.subject, "Check linux/cpu switched to critical state on web-1");
    assert.match(
      m.body,
      /^The check switch state at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d with the output:\nCPU is critical\n/,
    );
    assert.match(m.raw, /^From: kunai@example\.com/m);
    await until("the relay's answer", () => h.stats().sent === 1, 10_000);
    assert.equal(h.stats().queued, 0);
    assert.ok(lines.some((l) => /INFO .*sent to ops@example\.com/.test(l)), lines.join("\n"));
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("templates see the check's configured fields (notes, extra keys) under the change, secrets masked", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const ctx = makeTestCtx({
    name: "mx-1",
    files: {
      "handlers/default.json": {
        handler: {
          type: "mail",
          contacts: ["ops@example.com"],
          smtp_server: HOST,
          smtp_port: port,
          smtp_starttls: "never",
          text_template: "fields.tpl",
        },
      },
      "templates/fields.tpl": "{{ check.notes }}|{{ check.mailq.warning }}|{{ check.smtp_password }}|" +
        "{{ check.state }}|{{ check.old_state }}|{{ check.output }}|{{ check.apply_on }}|{{ check.interval }}\n",
      "mailq.json": {
        check: {
          critical_if: "1 == 1",
          critical_output: "'queue full'",
          notes: "flush it with postqueue -f",
          mailq: { warning: 50 },
          smtp_password: "hunter2",
        },
      },
    },
  });
  const checks = createChecks(ctx);
  const h = createHandlers(ctx, {
    membership: { self: () => record(ctx) },
    checkDefinition: (id) => checks.definition(id),
  });
  try {
    await checks.start();
    await h.start();
    await checks.runCheck("mailq");
    await until("the mail", () => smtp.mails.length === 1, 10_000);
    assert.equal(
      smtp.mails[0].body.trimEnd(),
      "flush it with postqueue -f|50|********|critical|pending|queue full|*|10s",
    );
  } finally {
    await h.stop();
    await checks.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("severities filter: a handler for critical only ignores a change to warning", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const { ctx, h } = setup(port, { severities: ["critical"] });
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("warning", "ok"));
    ctx.bus.emit("check.changed", change("critical", "warning"));
    await until("the critical mail", () => h.stats().sent === 1, 10_000);
    // Mails go out in order: had the warning been queued, it would have arrived first.
    assert.equal(smtp.mails.length, 1);
    assert.match(smtp.mails[0].subject, /switched to critical/);
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("nothing is mailed without a state change, for unknown handlers, or for a first OK", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const { ctx, h } = setup(port);
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "critical"));
    ctx.bus.emit("check.changed", change("ok", "pending"));
    ctx.bus.emit("check.changed", change("critical", "ok", { handlers: ["nobody"] }));
    ctx.bus.emit("check.changed", change("warning", "ok", { id: "marker", name: "marker" }));
    await until("the marker mail", () => h.stats().sent === 1, 10_000);
    assert.equal(smtp.mails.length, 1);
    assert.match(smtp.mails[0].subject, /^Check marker switched to warning/);
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("a template that fails to render mails nothing and logs the template, its line and why", async () => {
  const { ctx, h, lines } = setup(freePort(HOST), { text_template: "broken.tpl" });
  try {
    Deno.mkdirSync(join(ctx.config.cfgDir, "templates"), { recursive: true });
    Deno.writeTextFileSync(
      join(ctx.config.cfgDir, "templates", "broken.tpl"),
      "Output:\n{{ check.nope.first }}\n",
    );
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until("the error", () => lines.some((l) => l.startsWith("ERROR")), 10_000);
    const line = lines.find((l) => l.startsWith("ERROR"))!;
    assert.match(
      line,
      /handler handlers\/default: nothing mailed for check:.*: template broken\.tpl \(.*broken\.tpl\): line 2, column 1: UndefinedError: 'check\.nope' is undefined$/,
    );
    assert.equal(h.stats().queued, 0);
  } finally {
    await h.stop();
    ctx.cleanup();
  }
});

Deno.test("SMTP down: the mail is retried with backoff and delivered once the relay is back", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  const { ctx, h, lines } = setup(port);
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until(
      "two failures",
      () => lines.filter((l) => /^WARNING .*failed .*retry in/.test(l)).length >= 2,
      10_000,
    );
    assert.equal(smtp.mails.length, 0);
    assert.equal(h.stats().queued, 1);
    await smtp.start();
    await until("delivery after the relay came back", () => h.stats().sent === 1, 10_000);
    assert.equal(smtp.mails.length, 1);
    assert.match(smtp.mails[0].subject, /switched to critical/);
    assert.equal(h.stats().queued, 0);
    assert.ok(lines.some((l) => /^INFO .*sent to .*after \d+ failed attempt/.test(l)), lines.join("\n"));
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("a reload sends what waits for a retry at once, to the contacts as configured now", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  const { ctx, h, lines } = setup(port, { retry_interval: "1h", retry_max_interval: "1h" });
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until(
      "a failure",
      () => lines.some((l) => /^WARNING .*ops@example\.com failed .*retry in 3600 s/.test(l)),
    );
    // the typo fixed and the relay back: the reload does not wait out the hour
    const def = ctx.config.objects.handler["handlers/default"];
    ctx.config.objects.handler["handlers/default"] = {
      ...def,
      value: { ...def.value as Record<string, unknown>, contacts: ["oncall@example.com"] },
    };
    await smtp.start();
    ctx.bus.emit("config.reloaded", { files: [] });
    await until("delivery after the reload", () => h.stats().sent === 1, 10_000);
    assert.deepEqual(smtp.mails[0].to, ["oncall@example.com"]);
    assert.ok(lines.some((l) => /^INFO .*sent to oncall@example\.com via/.test(l)), lines.join("\n"));
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("SMTP down and the wall clock stepped back an hour: the retry still comes within the longest retry interval", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  const clock = steppedClock(new RealClock());
  const { ctx, h, lines } = setup(port, { retry_interval: "500ms", retry_max_interval: "1s" }, clock);
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until("a failure", () => lines.some((l) => /^WARNING .*failed .*retry in/.test(l)), 10_000);
    clock.step(-3_600_000); // its retry was planned on the clock before the step
    await smtp.start();
    await until("delivery after the step", () => h.stats().sent === 1, 5_000);
    assert.equal(smtp.mails.length, 1);
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("queued mails survive a restart of the handlers (SQLite queue)", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  const { ctx, h, lines } = setup(port, { retry_interval: "100ms", retry_max_interval: "100ms" });
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until("a failure", () => lines.some((l) => /^WARNING .*failed/.test(l)), 10_000);
    await h.stop();
    await smtp.start();
    const again = createHandlers(ctx, { membership: { self: () => record(ctx) } });
    assert.equal(again.stats().queued, 1);
    await again.start();
    await until("delivery by the new instance", () => again.stats().sent === 1, 10_000);
    await again.stop();
    assert.equal(smtp.mails.length, 1);
  } finally {
    await smtp.stop();
    ctx.cleanup();
  }
});

/** A relay and handlers with `on_node_change`, started for `body`, then stopped. */
async function withNodeMails(
  body: (ctx: TestCtx, h: ReturnType<typeof setup>["h"], smtp: SmtpFixture) => Promise<void>,
) {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const { ctx, h } = setup(port, { on_node_change: true });
  try {
    await h.start();
    await body(ctx, h, smtp);
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
}

Deno.test("on_node_change mails another node turning dead, not ourselves", async () => {
  await withNodeMails(async (ctx, h, smtp) => {
    const me = record(ctx);
    ctx.bus.emit("member.dead", { ...me });
    ctx.bus.emit("member.dead", { ...me, uuid: "u-2", name: "db-2", addr: "10.0.0.9", state: "dead" });
    await until("the node mail", () => h.stats().sent === 1, 10_000);
    assert.equal(smtp.mails.length, 1);
    assert.equal(smtp.mails[0].subject, "Node db-2 is dead");
    assert.match(smtp.mails[0].body, /db-2 \(10\.0\.0\.9:6768, uuid u-2\) became dead/);
  });
});

Deno.test("a forged node name cannot add a mail header or end the message early (SMTP smuggling)", async () => {
  await withNodeMails(async (ctx, h, smtp) => {
    // the subject template puts the name in the Subject header, the text template in the body
    const name =
      "db-2\r\nBcc: evil@example.net\rX-Evil: 1\n\r\n.\r\nMAIL FROM:<x@evil>\r\nRCPT TO:<evil@example.net>";
    ctx.bus.emit("member.dead", { ...record(ctx), uuid: "u-2", name, addr: "10.0.0.9", state: "dead" });
    await until("the node mail", () => h.stats().sent === 1, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(smtp.mails.length, 1, "one message");
    assert.deepEqual(smtp.mails[0].to, ["ops@example.com"]);
    const head = smtp.mails[0].raw.split("\r\n\r\n")[0];
    assert.doesNotMatch(head, /^(Bcc|X-Evil|MAIL FROM|RCPT TO)/im, head);
    assert.match(smtp.mails[0].subject, /^Node db-2 +Bcc: evil@example\.net +X-Evil: 1/);
  });
});

Deno.test("a handler's queue holds max_queued notifications: the oldest gives way, logged and counted", async () => {
  const port = freePort(HOST); // the relay is down throughout
  const { ctx, h, lines } = setup(port, { max_queued: 3, max_per_hour: 0, retry_interval: "1h" });
  try {
    await h.start();
    for (let i = 1; i <= 5; i++) {
      ctx.bus.emit("check.changed", change("critical", "ok", { id: `c${i}`, name: `c${i}` }));
      await until(
        `attempt ${i}`,
        () => lines.filter((l) => /^WARNING .*failed .*retry in/.test(l)).length === i,
        10_000,
      );
    }
    assert.deepEqual(h.stats(), { sent: 0, dropped: 2, queued: 3 });
    const drops = lines.filter((l) => /max_queued 3/.test(l));
    assert.equal(drops.length, 2, lines.join("\n"));
    assert.match(
      drops[0],
      /^WARNING handler handlers\/default: 3 notification\(s\) queued \(max_queued 3\): dropped the oldest, mail "Check c1 switched to critical.*\(1 failed attempt\(s\): /,
    );
    assert.match(drops[1], /mail "Check c2 /);
    assert.equal(
      ctx.counters.get("handler_mails_total", { handler: "handlers/default", result: "queue_full" }),
      2,
    );
  } finally {
    await h.stop();
    ctx.cleanup();
  }
});

Deno.test("a mail still failing once retry_for has passed since it was queued is abandoned, logged and counted", async () => {
  const port = freePort(HOST); // the relay is down throughout
  const clock = new VirtualClock(1_000_000);
  const { ctx, h, lines } = setup(
    port,
    { retry_interval: "1s", retry_max_interval: "1s", retry_for: "3s" },
    clock,
  );
  const failures = () => lines.filter((l) => /^WARNING .*failed .*retry in 1 s/.test(l)).length;
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    // tries at +0, +1 s and +2 s are retried; the one at +3 s (retry_for after it was queued) is the last
    for (let i = 1; i <= 3; i++) {
      await until(`attempt ${i} failed`, () => failures() === i, 10_000);
      await clock.advance(1_000);
    }
    await until("abandoned", () => h.stats().dropped === 1, 10_000);
    assert.equal(failures(), 3, "no retry planned after the last attempt");
    assert.deepEqual(h.stats(), { sent: 0, dropped: 1, queued: 0 });
    assert.ok(
      lines.some((l) =>
        /^ERROR handler handlers\/default: mail ".*" abandoned after 4 attempt\(s\): /.test(l)
      ),
      lines.join("\n"),
    );
  } finally {
    await h.stop();
    ctx.cleanup();
  }
});

Deno.test("a wall clock stepped forward past retry_for does not abandon a mail queued seconds ago", async () => {
  const port = freePort(HOST); // the relay is down throughout
  const base = new VirtualClock(1_000_000);
  const clock = steppedClock(base);
  const { ctx, h, lines } = setup(
    port,
    { retry_interval: "1s", retry_max_interval: "1s", retry_for: "1h" },
    clock,
  );
  const failures = () => lines.filter((l) => /^WARNING .*failed .*retry in 1 s/.test(l)).length;
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until("first attempt failed", () => failures() === 1, 10_000);
    clock.step(2 * 86_400_000); // NTP fixing a clock two days behind
    await base.advance(1_000);
    await until("retried", () => failures() === 2, 10_000);
    assert.equal(h.stats().dropped, 0, "kept: it has waited a second, not two days");
    // retry_for still ends it, counted on the clock that never steps
    await base.advance(1_800_000);
    await until("retried half an hour later", () => failures() === 3, 10_000);
    assert.equal(h.stats().dropped, 0);
    await base.advance(1_800_000);
    await until("abandoned", () => h.stats().dropped === 1, 10_000);
    assert.equal(failures(), 3);
  } finally {
    await h.stop();
    ctx.cleanup();
  }
});

Deno.test("a queued mail whose handler became a webhook handler is dropped, not posted nor retried", async () => {
  const port = freePort(HOST); // the relay is down: the mail waits for its retry
  const { ctx, h, lines } = setup(port, { retry_interval: "1h", retry_max_interval: "1h" });
  const got: string[] = [];
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push(await req.text());
    return new Response("ok");
  });
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    await until("a failure", () => lines.some((l) => /^WARNING .*failed .*retry in 3600 s/.test(l)), 10_000);
    const def = ctx.config.objects.handler["handlers/default"];
    ctx.config.objects.handler["handlers/default"] = {
      ...def,
      value: { type: "webhook", url: `http://127.0.0.1:${hook.addr.port}/hook` },
    };
    ctx.bus.emit("config.reloaded", { files: [] });
    await until("dropped", () => h.stats().dropped === 1, 10_000);
    assert.deepEqual(h.stats(), { sent: 0, dropped: 1, queued: 0 });
    assert.ok(lines.some((l) => /is no longer a mail handler/.test(l)), lines.join("\n"));
    assert.deepEqual(got, [], "the mail was not posted to the webhook");
  } finally {
    await h.stop();
    await hook.shutdown();
    ctx.cleanup();
  }
});

Deno.test("the rate limit caps mails per check per hour", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const { ctx, h, lines } = setup(port, { max_per_hour: 2 });
  try {
    await h.start();
    ctx.bus.emit("check.changed", change("critical", "ok"));
    ctx.bus.emit("check.changed", change("ok", "critical"));
    ctx.bus.emit("check.changed", change("critical", "ok"));
    ctx.bus.emit("check.changed", change("warning", "ok", { id: "other", name: "other" }));
    await until("three mails", () => h.stats().sent === 3, 10_000);
    assert.equal(smtp.mails.length, 3);
    assert.ok(lines.some((l) => /^WARNING .*rate limit \(2\/hour\) reached for check:linux\/cpu/.test(l)));
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("handlers test sends a sample; the list hides the password; the test route is a write route", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const { ctx, h } = setup(port, { smtp_password: "s3cret" });
  try {
    await h.start();
    const res = await h.test("default");
    assert.deepEqual(res.to, ["ops@example.com"]);
    assert.equal(smtp.mails.length, 1);
    assert.match(smtp.mails[0].subject, /handler-test/);
    const list = h.list();
    assert.equal(list.length, 1);
    assert.equal(list[0].name, "handlers/default");
    assert.ok(!JSON.stringify(list).includes("s3cret"));
    const table = h.routes!() as import("../../lib/routing/mod.ts").RouteTable;
    const access = Object.fromEntries(table.routes.map((r) => [`${r.method} ${r.path}`, r.access]));
    assert.equal(access["GET /agent/handlers"], "read");
    assert.equal(access["POST /agent/handlers/:name{.+}/test"], "write");
    await assert.rejects(() => h.test("nope"), /no handler named nope/);
    const app = buildApp([table], { token: "", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters });
    const overTcp = await app.request("/agent/handlers/handlers/default/test", { method: "POST" }, {
      transport: "tcp",
    });
    assert.equal(overTcp.status, 403, "a write route: refused over TCP when no token is set");
    const overUnix = await app.request("/agent/handlers/handlers/default/test", { method: "POST" }, {
      transport: "unix",
    });
    assert.equal(overUnix.status, 200, await overUnix.clone().text());
    assert.equal(smtp.mails.length, 2);
    const unknown = await app.request("/agent/handlers/nope/test", { method: "POST" }, { transport: "unix" });
    assert.equal(unknown.status, 404);
  } finally {
    await h.stop();
    await smtp.stop();
    ctx.cleanup();
  }
});

Deno.test("pure parts: retry delays double up to the cap; handler lookup aliases; hourly limiter", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => retryDelay(a, 1000, 5000)), [1000, 2000, 4000, 5000, 5000]);
  const lim = new HourlyLimiter();
  assert.ok(lim.allow("k", 0, 2) && lim.allow("k", 1, 2));
  assert.ok(!lim.allow("k", 2, 2));
  assert.ok(lim.allow("k", 3_600_001, 2));
  assert.ok(lim.allow("x", 0, 0));
  // the clock steps back an hour: sends "in the future" no longer count, alerts go out
  const back = new HourlyLimiter();
  assert.ok(back.allow("k", 7_200_000, 1));
  assert.ok(!back.allow("k", 7_200_001, 1));
  assert.ok(back.allow("k", 3_600_000, 1), "after a step back of an hour");
  // a key per node: members that come and go (made-up uuids) do not keep their keys for good
  const many = new HourlyLimiter();
  for (let hour = 0; hour < 10; hour++) {
    for (let i = 0; i < 3000; i++) many.allow(`node:${hour}-${i}`, hour * 3_600_000 + i, 5);
  }
  assert.ok(many.size <= 2 * 3000 + 1024, `${many.size} keys held after 10 hours of 3 000 new nodes an hour`);
  assert.ok(!many.allow("node:9-0", 9 * 3_600_000 + 10, 1), "a key within its hour still counts");
  const obj = (id: string) => ({ id, file: `${id}.json`, root: "/", value: { type: "mail", contacts: [] } });
  const one = handlerDefs({ local: obj("local") });
  assert.equal(findHandler(one, "default")?.name, "local");
  const two = handlerDefs({ local: obj("local"), "handlers/ops": obj("handlers/ops") });
  assert.equal(findHandler(two, "default"), undefined);
  assert.equal(findHandler(two, "ops")?.name, "handlers/ops");
});
