/**
 * The outputs wired into a real agent process: a check turning CRITICAL is mailed, the generator
 * file and the Shinken host file appear, and the CLI groups answer.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, startAgent, until } from "../helpers.ts";
import { SmtpFixture } from "../handlers/smtp_fixture.ts";

const HOST = "127.0.0.42";

Deno.test("agent: check -> mail, generator file, shinken files, and the handlers/generators/shinken CLI", async () => {
  const smtpPort = freePort(HOST);
  const smtp = new SmtpFixture(HOST, smtpPort);
  await smtp.start();
  const out = Deno.makeTempDirSync({ prefix: "kunai-outputs-e2e-" });
  const agent = await startAgent({
    name: "out-1",
    addr: HOST,
    params: { tags: ["web"] },
    files: {
      "handlers/default.json": {
        handler: {
          type: "mail",
          contacts: ["ops@example.com"],
          smtp_server: HOST,
          smtp_port: smtpPort,
          smtp_starttls: "never",
        },
      },
      "checks/always.json": {
        check: { interval: "1s", critical_if: "1 == 1", apply_on: "*", notes: "see the runbook" },
      },
      // the check's configured fields reach the templates through the wiring (checks -> handlers)
      "templates/email.text.tpl": "{{ check.state }}: {{ check.notes }}\n",
      "generators/hosts.json": {
        generator: { path: join(out, "hosts.txt"), template: "hosts.tpl", apply_on: "*" },
      },
      "generators/templates/hosts.tpl":
        "{% for uuid, n in nodes | items %}{{ n.name }} {{ n.addr }}\n{% endfor %}",
      "shinken.json": {
        shinken: {
          cfg_path: join(out, "agent"),
          reload_command: "",
          external_command_file: "",
          monitoring_tool: "nagios",
        },
      },
    },
  });
  try {
    await until("the mail for the critical check", () => smtp.mails.length >= 1, 30_000);
    assert.match(smtp.mails[0].subject, /^Check checks\/always switched to critical state on out-1$/);
    assert.equal(smtp.mails[0].body.trimEnd(), "critical: see the runbook");
    await until("the generated file", () => {
      try {
        return Deno.readTextFileSync(join(out, "hosts.txt")) === `out-1 ${HOST}\n`;
      } catch {
        return false;
      }
    }, 20_000);
    const files = [...Deno.readDirSync(join(out, "agent"))].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.match(files[0], /\.cfg$/);

    const handlers = await agent.cli(["handlers", "list", "--json"]);
    assert.equal(handlers.code, 0, handlers.stderr);
    const hl = JSON.parse(handlers.stdout);
    assert.equal(hl[0].name, "handlers/default");
    const gens = await agent.cli(["generators", "list", "--json"]);
    assert.equal(gens.code, 0, gens.stderr);
    const gl = JSON.parse(gens.stdout);
    assert.equal(gl[0].name, "generators/hosts");
    assert.ok(gl[0].writes >= 1);
    const human = await agent.cli(["handlers", "list"]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      /handlers\/default: +mail ok,warning,critical,unknown -> ops@example\.com via /,
    );
    const gensHuman = await agent.cli(["generators", "list"]);
    assert.match(gensHuman.stdout, /generators\/hosts: +hosts\.tpl -> .*hosts\.txt: \d+ write/);
    const dir = join(out, "exported");
    const exp = await agent.cli(["shinken", "export", "--dir", dir]);
    assert.equal(exp.code, 0, exp.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), files);
    const test = await agent.cli(["handlers", "test", "handlers/default"]);
    assert.equal(test.code, 0, test.stderr);
    await until("the test mail", () => smtp.mails.some((m) => /handler-test/.test(m.subject)), 10_000);
    const info = JSON.parse((await agent.cli(["info", "--json"])).stdout);
    assert.equal(info.shinken?.enabled, true);
    assert.ok(info.handlers?.sent >= 1);
  } finally {
    await agent.stop();
    await smtp.stop();
    Deno.removeSync(out, { recursive: true });
    Deno.removeSync(agent.dir, { recursive: true });
  }
});
