/** The mailer keeps one transport per SMTP settings in use: a reload that changes them closes the old one. */
import assert from "node:assert/strict";
import { Mailer } from "../../lib/handlers/mailer.ts";
import type { HandlerDef } from "../../lib/handlers/handler_def.ts";
import { freePort } from "../helpers.ts";
import { SmtpFixture } from "./smtp_fixture.ts";

const HOST = "127.0.0.1";

Deno.test("a transport whose settings no handler has any more is closed at reload", async () => {
  const port = freePort(HOST);
  const smtp = new SmtpFixture(HOST, port);
  await smtp.start();
  const m = new Mailer();
  const def = (timeout: number) =>
    ({
      type: "mail",
      name: "h",
      smtp_server: HOST,
      smtp_port: port,
      smtp_tls: false,
      smtp_starttls: "never",
      smtp_tls_verify: false,
      smtp_user: "",
      smtp_password: "",
      smtp_timeout: timeout,
      addr_from: "kunai@example.com",
      contacts: ["ops@example.com"],
    }) as unknown as HandlerDef;
  try {
    const msg = { from: "kunai@example.com", to: ["ops@example.com"], subject: "s", text: "t" };
    await m.send(def(5000), msg);
    await m.send(def(6000), msg); // settings changed by a reload
    assert.equal(m.size, 2);
    m.retain([def(6000)]);
    assert.equal(m.size, 1, "the old settings' transport is gone");
    await m.send(def(6000), msg);
    assert.equal(m.size, 1);
    assert.equal(smtp.mails.length, 3);
    m.retain([]);
    assert.equal(m.size, 0);
  } finally {
    m.close();
    await smtp.stop();
  }
});
