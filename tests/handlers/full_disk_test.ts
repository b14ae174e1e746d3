/**
 * handlers.db on a full disk: a notification is never lost nor crashes the agent. The mail waits in
 * memory, is sent (and retried) from there, and the queue catches up once there is room. Also: a
 * retry planned before the wall clock stepped back is due once it lies beyond the longest retry interval.
 */
import assert from "node:assert/strict";
import { RealClock } from "../../lib/clock/mod.ts";
import { createHandlers } from "../../lib/handlers/mod.ts";
import { MAIL_QUEUE_MIGRATIONS, MailQueue } from "../../lib/handlers/mail_queue.ts";
import { type Database, openDatabase, StoreFullError } from "../../lib/store/mod.ts";
import { makeTestCtx, tempDir, until } from "../helpers.ts";
import { fill } from "../store/fill.ts";
import { change, memberRecord } from "./fixtures.ts";

/** `db` whose writes fail as on a full disk while `full.on` (a DELETE too, which max_page_count allows). */
function flaky(db: Database, full: { on: boolean }): Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "run") {
        return (sql: string, ...p: unknown[]) => {
          if (full.on) throw new StoreFullError(db.path, new Error("database or disk is full"));
          return target.run(sql, ...p as never[]);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

const mail = (subject: string, at: number) => ({
  handler: "ops",
  subject_key: `check:${subject}`,
  recipients: ["a@b"],
  subject,
  body: "b",
  created: at,
  next_at: at,
});

Deno.test("mail queue on a full disk: adds, retries and sends wait in memory, then the queue catches up", () => {
  using t = tempDir();
  const db = openDatabase(`${t.dir}/handlers.db`, MAIL_QUEUE_MIGRATIONS);
  const full = { on: false };
  const fails: string[] = [];
  const q = new MailQueue(flaky(db, full), { fail: (e) => fails.push(e.message), ok: () => {} });
  const kept = q.add(mail("kept", 100)); // on disk before it filled
  const sent = q.add(mail("sent", 150));
  full.on = true;
  const fresh = q.add(mail("fresh", 120));
  assert.ok(fresh < 0, "in memory");
  assert.equal(q.unsaved, 1);
  assert.match(fails[0], /handlers\.db: the disk is full/);
  assert.deepEqual(q.counts(), { ops: 3 });
  assert.equal(q.nextTime(), 100);
  assert.equal(q.nextDue(1000)?.subject, "kept");
  assert.equal(q.oldest("ops")?.subject, "kept");
  q.failed(kept, 500, "relay down"); // cannot update its row: it waits in memory with its new time
  assert.equal(q.oldest("ops")?.subject, "kept", "its copy in memory, not its hidden row");
  assert.equal(q.oldest("ops")?.attempts, 1);
  assert.equal(q.oldest("other"), undefined);
  assert.equal(q.nextDue(1000)?.subject, "fresh");
  q.remove(fresh);
  assert.equal(q.nextDue(1000)?.subject, "sent");
  q.remove(sent); // its DELETE waits
  const retry = q.nextDue(1000)!;
  assert.equal(retry.subject, "kept");
  assert.equal(retry.attempts, 1);
  assert.equal(retry.next_at, 500);
  assert.equal(q.nextDue(400), undefined);
  assert.deepEqual(q.counts(), { ops: 1 });
  full.on = false;
  assert.equal(q.nextTime(), 500);
  q.nextDue(0); // catches up
  assert.equal(q.unsaved, 0);
  const rows = db.all<{ subject: string; attempts: number; last_error: string }>(
    "SELECT subject, attempts, last_error FROM mail_queue",
  ).map((r) => ({ ...r }));
  assert.deepEqual(rows, [{ subject: "kept", attempts: 1, last_error: "relay down" }]);
  db.close();
});

Deno.test("mails kept in memory on a full disk are written before a newer one: the oldest stays the oldest", () => {
  using t = tempDir();
  const db = openDatabase(`${t.dir}/handlers.db`, MAIL_QUEUE_MIGRATIONS);
  const full = { on: true };
  const q = new MailQueue(flaky(db, full));
  assert.ok(q.add(mail("older", 100)) < 0, "in memory");
  full.on = false;
  q.add(mail("newer", 200));
  assert.equal(q.unsaved, 0, "written with the new one");
  q.nextDue(0);
  assert.deepEqual(
    db.all<{ subject: string }>("SELECT subject FROM mail_queue ORDER BY id").map((r) => r.subject),
    [
      "older",
      "newer",
    ],
  );
  // what max_queued drops first
  assert.equal(q.oldest("ops")?.subject, "older");
  db.close();
});

Deno.test("a webhook handler on a full disk still notifies (and the agent does not crash)", async () => {
  let left = 1;
  const got: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push(await req.text());
    return left-- > 0 ? new Response("busy", { status: 500 }) : new Response("ok");
  });
  const ctx = makeTestCtx({
    clock: new RealClock(),
    name: "web-1",
    files: {
      "handlers/default.json": {
        handler: {
          type: "webhook",
          url: `http://127.0.0.1:${server.addr.port}/hook`,
          retry_interval: "100ms",
          retry_max_interval: "200ms",
        },
      },
    },
  });
  const self = memberRecord(ctx.node.uuid, "web-1");
  const h = createHandlers(ctx, { membership: { self: () => self } });
  try {
    await h.start();
    const db = ctx.store.handle("handlers")!;
    fill(db, (i, text) =>
      db.run(
        "INSERT INTO mail_queue (handler, subject_key, recipients, subject, body, created, next_at) VALUES ('x', ?, '[]', '', ?, 0, 1e15)",
        `fill${i}`,
        text,
      ));
    ctx.bus.emit("check.changed", change("critical", "ok", { output: "/ is full" }));
    await until("delivered after a refusal", () => h.stats().sent === 1, 10_000);
    assert.equal(got.length, 2);
    assert.equal(JSON.parse(got[1]).check.output, "/ is full");
  } finally {
    await h.stop();
    await server.shutdown();
    ctx.cleanup();
  }
});

Deno.test("a retry planned before the wall clock stepped back an hour is due once it lies beyond the longest retry interval", () => {
  using t = tempDir();
  const db = openDatabase(`${t.dir}/handlers.db`, MAIL_QUEUE_MIGRATIONS);
  const q = new MailQueue(db, { fail: () => {}, ok: () => {} });
  const before = 1_800_000_000_000;
  const id = q.add(mail("disk full on db1", before));
  q.failed(id, before + 60_000, "relay down"); // retry in a minute
  const now = before - 3_600_000 + 5_000; // the clock stepped back an hour
  assert.equal(q.nextDue(now), undefined, "without a horizon: an hour and a minute away");
  assert.equal(q.nextDue(now, 15 * 60_000)?.id, id, "beyond the longest retry interval: due");
  assert.equal(q.nextDue(before, 15 * 60_000), undefined, "a retry within the horizon waits for its time");
  assert.equal(q.nextDue(before + 60_000, 15 * 60_000)?.id, id, "due at its time, as ever");
  db.close();
  // a mail waiting in memory (handlers.db on a full disk) too
  const db2 = openDatabase(`${t.dir}/handlers2.db`, MAIL_QUEUE_MIGRATIONS);
  const q2 = new MailQueue(flaky(db2, { on: true }), { fail: () => {}, ok: () => {} });
  const mem = q2.add(mail("memory", before + 60_000));
  assert.ok(mem < 0, "kept in memory");
  assert.equal(q2.nextDue(now), undefined);
  assert.equal(q2.nextDue(now, 15 * 60_000)?.id, mem);
  db2.close();
});
