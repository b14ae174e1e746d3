/** The notification queue's due times after a wall clock step back. */
import assert from "node:assert/strict";
import { MAIL_QUEUE_MIGRATIONS, MailQueue } from "../../lib/handlers/mail_queue.ts";
import { openDatabase, StoreFullError } from "../../lib/store/mod.ts";
import { tempDir } from "../helpers.ts";

const mail = (subject: string, at: number) => ({
  handler: "ops",
  subject_key: `check:${subject}`,
  recipients: ["a@b"],
  subject,
  body: "b",
  created: at,
  next_at: at,
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
  const flaky = new Proxy(db2, {
    get(target, prop) {
      if (prop === "run") {
        return () => {
          throw new StoreFullError(db2.path, new Error("database or disk is full"));
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const q2 = new MailQueue(flaky, { fail: () => {}, ok: () => {} });
  const mem = q2.add(mail("memory", before + 60_000));
  assert.ok(mem < 0, "kept in memory");
  assert.equal(q2.nextDue(now), undefined);
  assert.equal(q2.nextDue(now, 15 * 60_000)?.id, mem);
  db2.close();
});
