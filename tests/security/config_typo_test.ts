/**
 * Hole 8: a typo (`encrytion_key`, `htpp`) was kept as free data and the agent ran unencrypted with
 * an open API; a bad `encryption_key` must be a configuration error found before anything is written.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, resolveConfig } from "../../lib/config/mod.ts";
import { closestName, editDistance } from "../../lib/config/suggest.ts";
import { runKunai, tempDir } from "../helpers.ts";
import { newKey } from "./sec_helpers.ts";

function resolveWith(local: Record<string, unknown>, files: Record<string, unknown> = {}) {
  const { dir, cleanup } = tempDir("kunai-sec-cfg-");
  try {
    const cfgDir = join(dir, "etc");
    Deno.mkdirSync(cfgDir);
    Deno.writeTextFileSync(join(cfgDir, "local.json"), JSON.stringify({ data: join(dir, "data"), ...local }));
    for (const [rel, v] of Object.entries(files)) {
      Deno.mkdirSync(join(cfgDir, rel, ".."), { recursive: true });
      Deno.writeTextFileSync(join(cfgDir, rel), JSON.stringify(v));
    }
    return resolveConfig({ cfgDir, env: { HOME: dir } });
  } finally {
    cleanup();
  }
}

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("edit distance counts a swap of neighbours as one edit and gives up past the limit", () => {
  assert.equal(editDistance("htpp", "http"), 1);
  assert.equal(editDistance("encrytion_key", "encryption_key"), 1);
  assert.equal(editDistance("abc", "abc"), 0);
  assert.equal(editDistance("kitten", "sitting", 5), 3);
  assert.equal(editDistance("a", "abcdef"), 3, "gives up at max + 1");
  assert.equal(closestName("db", ["dns", "data"]), undefined, "short free-data keys get one edit only");
  assert.equal(closestName("prot", ["port", "bind"]), "port");
});

Deno.test("a top-level key within two edits of a parameter is an error that says what was meant", () => {
  assert.match(
    problems(() => resolveWith({ encrytion_key: newKey() })),
    /encrytion_key: unknown parameter: did you mean encryption_key\?/,
  );
  assert.match(
    problems(() => resolveWith({ htpp: { token: "x" } })),
    /htpp: unknown parameter: did you mean http\?/,
  );
  assert.match(problems(() => resolveWith({ Seeds: ["a"] })), /did you mean seeds\?/);
  assert.match(
    problems(() => resolveWith({}, { "x.json": { chek: { interval: "5s" } } })),
    /did you mean check\?/,
  );
  // free data far from every parameter is still free data
  const cfg = resolveWith({ mysql_password: "pw", db: 1, load: { warning: 1 } });
  assert.equal(cfg.data.mysql_password, "pw");
  assert.equal(cfg.data.db, 1);
});

Deno.test("an unknown check field close to a known one is a warning and the check still loads", () => {
  const cfg = resolveWith({}, {
    "web/hot.json": { check: { critical_iff: "1 > 2", interval: "5s", mysql_user: "root" } },
  });
  assert.ok(cfg.objects.check["web/hot"], "the check loads");
  assert.equal(cfg.warnings.length, 1, JSON.stringify(cfg.warnings));
  assert.equal(cfg.warnings[0].path, "check.critical_iff");
  assert.match(cfg.warnings[0].message, /did you mean critical_if\?/);
  assert.match(cfg.warnings[0].file, /web\/hot\.json$/);
});

Deno.test("a bad encryption_key is a configuration error naming the file and the field", () => {
  for (const bad of ["not base64!", btoa("short"), btoa("x".repeat(20))]) {
    const msg = problems(() => resolveWith({ encryption_key: bad }));
    assert.match(msg, /local\.json: encryption_key: encryption key .*kunai keygen/);
  }
  assert.match(problems(() => resolveWith({ encryption_keys: [newKey(), "zz"] })), /encryption_keys\[1\]/);
  assert.equal(resolveWith({ encryption_key: newKey() }).params.encryption_key.length, 44);
});

Deno.test("a type error in a secret field says its type and length, never a part of the value", () => {
  const key = newKey();
  const cases: Array<[Record<string, unknown>, Record<string, unknown>, RegExp, string]> = [
    [
      { encryption_keys: key },
      {},
      /encryption_keys: expected a list of strings, got a string of 44 characters/,
      key,
    ],
    [{ encryption_key: [key] }, {}, /encryption_key: expected a string, got a list/, key],
    [{ http: { token: 987654321 } }, {}, /http\.token: expected a string, got a number/, "987654321"],
    [
      {},
      {
        "h.json": { handler: { type: "mail", smtp_password: 55512345 } },
      },
      /handler\.smtp_password: expected a string, got a number/,
      "55512345",
    ],
    [
      {},
      {
        "h.json": { handler: { type: "webhook", url: "htps://hooks.example.com/services/T0/B0/SECRETPATH" } },
      },
      /handler\.url: a webhook handler needs an http:\/\/ or https:\/\/ url, got a string of 50 characters/,
      "SECRET",
    ],
    [
      {},
      {
        "h.json": {
          handler: { type: "webhook", url: "https://h/x", headers: { Authorization: 4242424242 } },
        },
      },
      /handler\.headers\.Authorization: expected a string, got a number/,
      "4242424242",
    ],
    [
      {},
      {
        "h.json": { handler: { type: "webhook", url: "https://h/x", smtp_starttls: "SECRETVALUE" } },
      },
      /handler\.smtp_starttls: "SECRETVALUE" is not one of/,
      "",
    ], // not a secret: quoted as before
  ];
  for (const [local, files, expected, secret] of cases) {
    const msg = problems(() => resolveWith(local, files));
    assert.match(msg, expected);
    if (secret) assert.ok(!msg.includes(secret) && !msg.includes(secret.slice(0, 10)), msg);
  }
});

Deno.test("agent start refuses a bad key or a typo with exit 2 before writing anything", async () => {
  const { dir, cleanup } = tempDir("kunai-sec-cfg-");
  try {
    const cfgDir = join(dir, "etc");
    const data = join(dir, "data");
    Deno.mkdirSync(cfgDir);
    for (const local of [{ encryption_key: "AAAA" }, { encrytion_key: newKey() }, { htpp: { token: "t" } }]) {
      Deno.writeTextFileSync(join(cfgDir, "local.json"), JSON.stringify({ data, port: 1, ...local }));
      const r = await runKunai(["agent", "start", "--cfg-dir", cfgDir], { HOME: dir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /configuration error/);
      assert.match(r.stderr, /local\.json: (encryption_key|encrytion_key|htpp)/);
      assert.throws(() => Deno.statSync(data), Deno.errors.NotFound, "nothing written");
    }
  } finally {
    cleanup();
  }
});
