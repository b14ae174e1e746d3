/**
 * nunjucks is loaded only by an agent that renders templates: handlers without a mail handler
 * never load it; starting with one loads it before the first state change is mailed.
 */
import assert from "node:assert/strict";
import { createHandlers } from "../../lib/handlers/mod.ts";
import { templateEngineLoaded } from "../../lib/templates/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import { change, memberRecord } from "./fixtures.ts";

const self = (name: string) => () => memberRecord(name, name, "127.0.0.1");

Deno.test("the template engine is loaded only once a mail handler is configured", async () => {
  using quiet = makeTestCtx({ name: "quiet" });
  const none = createHandlers(quiet, { membership: { self: self("quiet") } });
  await none.start();
  quiet.bus.emit("check.changed", change("critical", "ok"));
  assert.equal(templateEngineLoaded(), false, "no mail handler: nunjucks not loaded");
  await none.stop();

  using mail = makeTestCtx({
    name: "mail",
    files: {
      "handlers/default.json": {
        handler: { type: "mail", contacts: ["ops@example.com"], smtp_server: "127.0.0.1", smtp_port: 1 },
      },
    },
  });
  const h = createHandlers(mail, { membership: { self: self("mail") } });
  await h.start();
  try {
    assert.equal(templateEngineLoaded(), true, "a mail handler: loaded at start");
  } finally {
    await h.stop();
  }
});
