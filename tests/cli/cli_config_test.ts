/**
 * `kunai config validate|show`, offline: a configuration that would start is OK (exit 0); one that
 * would not names file and field (exit 2), including what a start only meets later (an expression
 * that does not parse, a template that does not exist); `show` says where each parameter comes from
 * and masks secrets.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runKunai, tempDir } from "../helpers.ts";

function configDir(files: Record<string, unknown>) {
  const t = tempDir("kunai-cfgcheck-");
  const cfg = join(t.dir, "etc");
  Deno.mkdirSync(cfg, { recursive: true });
  const all: Record<string, unknown> = {
    "local.json": { name: "v1", data: join(t.dir, "data"), http: { token: "very-secret" } },
    ...files,
  };
  for (const [rel, v] of Object.entries(all)) {
    const p = join(cfg, rel);
    Deno.mkdirSync(join(p, ".."), { recursive: true });
    Deno.writeTextFileSync(p, typeof v === "string" ? v : JSON.stringify(v));
  }
  return { t, cfg };
}

const run = (cfg: string, ...args: string[]) => runKunai(["config", ...args, "--cfg-dir", cfg]);

Deno.test("config validate: OK, or every problem with its file and field, without an agent", async () => {
  const ok = configDir({
    "checks/load.json": { check: { critical_if: "{collector.load.load1} > 4", interval: "10s" } },
    "templates/site.tpl": "{{ nodes|length }}",
    "gen.json": { generator: { path: "/tmp/never-written", template: "site.tpl" } },
  });
  const bad = configDir({
    "checks/broken.json": { check: { critical_if: "{collector.load.load1} > (", interval: "10s" } },
    "detectors/d.json": { detector: { tags: ["x"], apply_if: "fileexists('/x') and", interval: "10s" } },
    "gen.json": { generator: { path: "/tmp/never-written", template: "missing.tpl" } },
    "mail.json": { handler: { type: "mail", contacts: ["a@b"], text_template: "nope.tpl" } },
  });
  const typo = configDir({ "typo.json": { port: "x" } });
  try {
    let r = await run(ok.cfg, "validate");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^configuration OK: 3 file\(s\) from .*; 1 check\(s\), 1 generator\(s\)/);

    r = await run(bad.cfg, "validate");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /checks\/broken\.json: check\.critical_if: expression does not parse/);
    assert.match(r.stderr, /detectors\/d\.json: detector\.apply_if: expression does not parse/);
    assert.match(r.stderr, /gen\.json: generator\.template: template missing\.tpl not found/);
    assert.match(r.stderr, /mail\.json: handler\.text_template: template nope\.tpl not found/);
    const j = JSON.parse((await run(bad.cfg, "validate", "--json")).stdout);
    assert.equal(j.valid, false);
    assert.equal(j.problems.length, 4);

    r = await run(typo.cfg, "validate");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /typo\.json: port: expected an integer/);
    assert.equal(JSON.parse((await run(typo.cfg, "validate", "--json")).stdout).valid, false);

    r = await runKunai(["config", "validate", "--cfg-dir", join(ok.t.dir, "no-such-dir")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /configuration directory does not exist/);
  } finally {
    for (const x of [ok, bad, typo]) x.t.cleanup();
  }
});

Deno.test("config validate/show and agent start refuse -c without --cfg-dir (it names the agent, not the configuration)", async () => {
  const typo = configDir({ "typo.json": { port: "x" } });
  try {
    for (const args of [["config", "validate"], ["config", "show"], ["agent", "start"]]) {
      const r = await runKunai(["-c", join(typo.cfg, "typo.json"), ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /names the agent to talk to, not the configuration .*--cfg-dir/);
      assert.doesNotMatch(r.stdout, /configuration OK/);
    }
    // with --cfg-dir, -c may still be there (the CLI's own target): the directory is read
    const r = await runKunai([
      "-c",
      join(typo.cfg, "typo.json"),
      "config",
      "validate",
      "--cfg-dir",
      typo.cfg,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /typo\.json: port: expected an integer/);
  } finally {
    typo.t.cleanup();
  }
});

Deno.test({
  name: "config validate without a configuration directory is not OK; config show says it shows the defaults",
  ignore: (() => {
    try {
      Deno.statSync("/etc/kunai");
      return true; // this machine has one: nothing to show here
    } catch {
      return false;
    }
  })(),
  async fn() {
    const r = await runKunai(["config", "validate"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\/etc\/kunai: configuration directory does not exist \(give --cfg-dir\)/);
    assert.equal(JSON.parse((await runKunai(["config", "validate", "--json"])).stdout).valid, false);
    const show = await runKunai(["config", "show", "--json"]);
    assert.equal(show.code, 0, show.stderr);
    assert.equal(JSON.parse(show.stdout).port.from, "default");
    assert.match(
      show.stderr,
      /\/etc\/kunai does not exist: these are the built-in defaults \(give --cfg-dir\)/,
    );
  },
});

Deno.test("config show: effective parameters, where each comes from, secrets masked", async () => {
  const c = configDir({
    "zz.json": { zone: "paris", encryption_key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
  });
  try {
    const r = await run(c.cfg, "show", "--json");
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout);
    assert.deepEqual(p.zone, { value: "paris", from: join(c.cfg, "zz.json") });
    assert.equal(p.name.from, join(c.cfg, "local.json"));
    assert.equal(p.port.from, "default");
    assert.equal(p.encryption_key.value, "(set)");
    assert.equal(p.http.value.token, "(set)");
    assert.equal(r.stdout.includes("very-secret"), false);
    const text = await run(c.cfg, "show");
    assert.match(text.stdout, /^ {2}zone\s+"paris"\s+.*zz\.json$/m);
    assert.equal(text.stdout.includes("AAAAAAAA"), false);
    assert.doesNotMatch(text.stdout, /keyring\.json/, "no saved keyring, no note");
    // a keyring saved by a rotation wins at start: said, without its keys
    Deno.mkdirSync(join(c.t.dir, "data"), { recursive: true });
    Deno.writeTextFileSync(join(c.t.dir, "data", "keyring.json"), JSON.stringify({ keys: ["BBBB", "CCCC"] }));
    const noted = await run(c.cfg, "show");
    assert.match(noted.stdout, /note: .*keyring\.json holds 2 key\(s\) .* wins over encryption_key/);
    assert.equal(noted.stdout.includes("BBBB"), false);
  } finally {
    c.t.cleanup();
  }
});

Deno.test("config validate: exec keys that an agent could not load are named (field and file); the original's RSA pair passes", async () => {
  const { generateKeyPairSync } = await import("node:crypto");
  const rsa = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "pkcs1", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  const c = configDir({
    "exec.key": rsa.privateKey as string,
    "exec.pub": rsa.publicKey as string,
    "keys.json": { master_key_priv: "exec.key", master_key_pub: "exec.pub" },
  });
  try {
    const ok = await run(c.cfg, "validate");
    assert.equal(ok.code, 0, ok.stderr);
    Deno.writeTextFileSync(join(c.cfg, "exec.pub"), "ssh-ed25519 AAAA... not a PEM key\n");
    const bad = await run(c.cfg, "validate");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /keys\.json: master_key_pub: .*exec\.pub: expected a PEM block/);
  } finally {
    c.t.cleanup();
  }
});
