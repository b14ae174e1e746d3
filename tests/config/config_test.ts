import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, listConfigFiles, loadYaml, resolveConfig } from "../../lib/config/mod.ts";
import { tempDir } from "../helpers.ts";

// the YAML parser is imported on first need (yaml_lazy_test.ts); these tests read YAML synchronously
await loadYaml();

function withFiles(files: Record<string, string | object>, fn: (cfgDir: string, dir: string) => void): void {
  const { dir, cleanup } = tempDir();
  try {
    const cfgDir = join(dir, "etc");
    Deno.mkdirSync(cfgDir);
    for (const [rel, v] of Object.entries(files)) {
      const p = join(cfgDir, rel);
      Deno.mkdirSync(join(p, ".."), { recursive: true });
      Deno.writeTextFileSync(p, typeof v === "string" ? v : JSON.stringify(v));
    }
    fn(cfgDir, dir);
  } finally {
    cleanup();
  }
}

function problemsOf(fn: () => unknown): ConfigError["problems"] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("embedded defaults apply when the config dir has only a data path", () => {
  withFiles({ "local.json": {} }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, dataDir: join(dir, "data"), env: { HOME: dir } });
    assert.equal(cfg.params.port, 6768);
    assert.equal(cfg.params.bind, "0.0.0.0");
    assert.equal(cfg.params.socket, join(dir, "data", "kunai.sock"));
    assert.equal(cfg.params.lock, join(dir, "data", "kunai.pid"));
    assert.equal(cfg.params.log, join(dir, "data", "log"));
    assert.equal(cfg.params.gossip.probe_interval, 1000);
    assert.equal(cfg.params.gossip.probe_timeout, 500);
    assert.equal(cfg.params.http.enabled, true);
    assert.equal(cfg.params.kv.write_acks, 2);
    assert.equal(cfg.params.name, Deno.hostname());
  });
});

Deno.test("agent parameters, $data$ substitution and free configuration data load", () => {
  withFiles({
    "local.json": {
      port: 7000,
      tags: ["linux", "kv"],
      data: "/tmp/kd",
      libexec: "$data$/plugins",
      load: { warning: 1 },
    },
  }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, env: { HOME: dir } });
    assert.equal(cfg.params.port, 7000);
    assert.deepEqual(cfg.params.tags, ["linux", "kv"]);
    assert.equal(cfg.params.libexec, "/tmp/kd/plugins");
    assert.deepEqual(cfg.data.load, { warning: 1 });
  });
});

Deno.test("typed objects are named by their path and checks keep extra lookup keys", () => {
  withFiles({
    "local.json": { data: "/tmp/kd2" },
    "linux/cpu.json": {
      check: { interval: "10s", critical_if: "1 > 2", thresholds: { cpuidle: { warning: 5 } } },
    },
    "services/redis.yml": "service:\n  name: redis\n  port: 6379\n  check:\n    script: check_tcp\n",
    "listeners/dns.yaml": "dns:\n  enabled: true\n  port: 6766\n",
  }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, env: { HOME: dir } });
    const cpu = cfg.objects.check["linux/cpu"];
    assert.ok(cpu, "check named by relative path");
    assert.deepEqual(cpu.value.thresholds, { cpuidle: { warning: 5 } });
    assert.deepEqual(cpu.value.handlers, ["default"]);
    assert.equal(cfg.objects.service.redis.value.port, 6379);
    assert.deepEqual(cfg.listeners.dns, {
      enabled: true,
      port: 6766,
      domain: ".kunai",
      ttl: 60,
      tcp_idle_timeout: 10_000,
    });
  });
});

Deno.test("the README's cpu check loads verbatim", () => {
  const check = {
    check: {
      interval: "10s",
      apply_on: "linux",
      ok_output: "'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
      critical_if: "{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.critical}",
      critical_output: "'Critical: cpu is too high: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
      warning_if: "{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.warning}",
      warning_output: "'Warning: cpu is very high: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
      thresholds: { cpuidle: { warning: 5, critical: 1 } },
    },
  };
  withFiles({ "local.json": { data: "/tmp/kd3" }, "cpu.json": check }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, env: { HOME: dir } });
    assert.equal(cfg.objects.check.cpu.value.apply_on, "linux");
  });
});

Deno.test("a JSON syntax error names the file, line and column", () => {
  withFiles({ "local.json": '{\n  "port": 7000,\n  "tags": [\n}\n' }, (cfgDir, dir) => {
    const [p] = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
    assert.equal(p.file, join(cfgDir, "local.json"));
    assert.equal(p.line, 4);
    assert.match(p.message, /invalid JSON/);
  });
});

Deno.test("a YAML syntax error names the file and line", () => {
  withFiles(
    { "local.json": {}, "x/bad.yml": "check:\n  interval: 10s\n   critical_if: [\n" },
    (cfgDir, dir) => {
      const [p] = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
      assert.equal(p.file, join(cfgDir, "x/bad.yml"));
      assert.equal(typeof p.line, "number");
      assert.match(p.message, /invalid YAML/);
    },
  );
});

Deno.test("wrong types, missing required fields and unknown fields are all reported with their paths", () => {
  withFiles({
    "local.json": { port: "6768", seeds: "a:1" },
    "h.json": { handler: { type: "mail", contacts: ["a@b"], smtp_srv: "x" } },
    "d.json": { detector: { apply_if: "True" } },
    "c.json": { check: { interval: "often", handlers: "default" } },
    "n.json": { dns: { enabled: "yes" } },
    "m.json": { handler: { type: "mail", max_queued: 0 } },
    "s.json": { statsd: { rcvbuf: -1, interval: "0.5s" }, graphite: { rcvbuf: "2GB", max_line: "2MB" } },
    "k.json": { kv: { replicas: 8, write_acks: 1.5 } },
    "p.yml": "statsd:\n  percentiles: [90, .nan]\n",
  }, (cfgDir, dir) => {
    const probs = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
    const got = probs.map((p) => `${p.file.slice(cfgDir.length + 1)}|${p.path}|${p.message}`).sort();
    const find = (re: RegExp) => assert.ok(got.some((g) => re.test(g)), `${re} in\n${got.join("\n")}`);
    find(/^local\.json\|port\|expected an integer between 0 and 65535, got the string "6768"/);
    find(/^local\.json\|seeds\|expected a list of strings/);
    find(/^h\.json\|handler\.smtp_srv\|unknown field/);
    find(/^d\.json\|detector\.tags\|is required/);
    find(/^c\.json\|check\.interval\|expected a duration/);
    find(/^c\.json\|check\.handlers\|expected a list/);
    find(/^n\.json\|dns\.enabled\|expected true or false/);
    find(/^m\.json\|handler\.max_queued\|0 is out of range: expected an integer of at least 1$/);
    find(/^s\.json\|statsd\.rcvbuf\|expected a size like "1MB", "64KB" or a number of bytes, got number -1/);
    find(/^s\.json\|statsd\.interval\|"0\.5s" is too short \(minimum 1000 ms\)/);
    find(/^s\.json\|graphite\.rcvbuf\|"2GB" is out of range: expected 0 to 1073741824 bytes/);
    find(/^s\.json\|graphite\.max_line\|"2MB" is out of range: expected 64 to 1048576 bytes/);
    find(/^k\.json\|kv\.replicas\|8 is out of range: expected an integer between 1 and 7$/);
    find(/^k\.json\|kv\.write_acks\|expected an integer between 1 and 7, got number 1\.5$/);
    find(/^p\.yml\|statsd\.percentiles\[1\]\|expected a number, got number NaN$/);
  });
});

Deno.test("a field named like a member of every object (constructor, toString, __proto__) is no known field", () => {
  withFiles({
    "local.json": { kv: { replicas: 2, toString: 1, constructor: 2 } },
    "h.json": '{"handler": {"type": "mail", "contacts": ["a@b"], "valueOf": 3, "__proto__": {"x": 1}}}',
    "c.json": '{"check": {"critical_if": "True", "__proto__": {"interval": "1s"}, "hasOwnProperty": 1}}',
    "w.json":
      '{"handler": {"type": "webhook", "url": "http://127.0.0.1:9/", "headers": {"__proto__": "x", "A": "b"}}}',
  }, (cfgDir, dir) => {
    const probs = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
    const got = probs.map((p) => `${p.file.slice(cfgDir.length + 1)}|${p.path}|${p.message}`).sort();
    assert.deepEqual(got.map((g) => g.replace(/ \(known fields: .*\)$/, "")), [
      "c.json|check.__proto__|__proto__ is reserved",
      "h.json|handler.__proto__|unknown field",
      "h.json|handler.valueOf|unknown field",
      "local.json|kv.constructor|unknown field",
      "local.json|kv.toString|unknown field",
      "w.json|handler.headers.__proto__|__proto__ is reserved",
    ]);
  });
  // a check keeps its extra lookup keys, those a plain object answers for too
  withFiles(
    { "c.json": { check: { critical_if: "True", constructor: "x", toString: 1 } } },
    (cfgDir, dir) => {
      const v = resolveConfig({ cfgDir, env: { HOME: dir } }).objects.check.c.value;
      assert.ok(Object.hasOwn(v, "constructor") && Object.hasOwn(v, "toString"));
      assert.deepEqual([v.constructor, v.toString], ["x", 1]);
    },
  );
});

Deno.test("statsd's interval takes a duration, the listeners' rcvbuf and max_line a size, as README says", () => {
  withFiles({
    "local.json": {
      statsd: { interval: "1500ms", rcvbuf: "8MB" },
      graphite: { rcvbuf: "512KB", max_line: "8KB" },
    },
  }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, env: { HOME: dir } });
    const statsd = cfg.listeners.statsd as { interval: number; rcvbuf: number };
    const graphite = cfg.listeners.graphite as { rcvbuf: number; max_line: number };
    assert.equal(statsd.interval, 1.5, "seconds");
    assert.equal(statsd.rcvbuf, 8 << 20);
    assert.equal(graphite.rcvbuf, 512 << 10);
    assert.equal(graphite.max_line, 8192);
  });
  withFiles({ "local.json": { statsd: { interval: 30 } } }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, env: { HOME: dir } });
    assert.equal((cfg.listeners.statsd as { interval: number }).interval, 30, "a number is seconds");
  });
});

Deno.test("a file that is not an object is refused", () => {
  withFiles({ "local.json": "[1, 2]" }, (cfgDir, dir) => {
    const [p] = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
    assert.match(p.message, /must hold one object/);
  });
});

Deno.test("KUNAI_* environment variables override files and flags override both", () => {
  withFiles({ "local.json": { port: 7000, name: "file-name", data: "/tmp/kd4" } }, (cfgDir, dir) => {
    const env = {
      HOME: dir,
      KUNAI_PORT: "7100",
      KUNAI_TAGS: "a, b",
      KUNAI_NAME: "env-name",
      KUNAI_BOOTSTRAP: "yes",
    };
    const cfg = resolveConfig({ cfgDir, env, overrides: { name: "flag-name" } });
    assert.equal(cfg.params.port, 7100);
    assert.deepEqual(cfg.params.tags, ["a", "b"]);
    assert.equal(cfg.params.bootstrap, true);
    assert.equal(cfg.params.name, "flag-name");
    const [p] = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir, KUNAI_PORT: "http" } }));
    assert.equal(p.file, "env KUNAI_PORT");
  });
});

Deno.test("the data dir's source is where it came from (kunai config show said default for --data-dir)", () => {
  withFiles({ "local.json": { data: "/tmp/kd5" } }, (cfgDir, dir) => {
    const src = (o: Parameters<typeof resolveConfig>[0]) => resolveConfig(o).paramSource?.data;
    assert.equal(src({ cfgDir, env: { HOME: dir } }), join(cfgDir, "local.json"));
    assert.equal(src({ cfgDir, env: { HOME: dir, KUNAI_DATA_DIR: "/tmp/kd6" } }), "env KUNAI_DATA_DIR");
    assert.equal(src({ cfgDir, env: { HOME: dir, KUNAI_DATA: "/tmp/kd6" } }), "env KUNAI_DATA");
    assert.equal(src({ cfgDir, env: { HOME: dir }, dataDir: "/tmp/kd7" }), "command line");
  });
  withFiles({}, (cfgDir, dir) => {
    assert.equal(resolveConfig({ cfgDir, env: { HOME: dir } }).paramSource?.data, undefined, "default");
  });
});

Deno.test("a seed that is not addr[:port] is a configuration error naming it (was: a warning at start, then ignored)", () => {
  const seeds = ["10.0.0.5", "db-1.example.org:7000", "[fd00::1]:6768", "::1"];
  withFiles({ "local.json": { seeds: [...seeds, "bad:port:x", "h:0"] } }, (cfgDir, dir) => {
    const probs = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
    assert.deepEqual(probs.map((p) => [p.file.slice(cfgDir.length + 1), p.path]), [
      ["local.json", "seeds[4]"],
      ["local.json", "seeds[5]"],
    ]);
    assert.match(probs[0].message, /^"bad:port:x" is not addr\[:port\]: a host name or IP address/);
  });
  // an IPv6 address with its port but no brackets: taken as an address, it failed at every join
  withFiles({ "local.json": { seeds: ["::1:13592"] } }, (cfgDir, dir) => {
    const probs = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
    assert.deepEqual(probs.map((p) => p.path), ["seeds[0]"]);
    assert.match(probs[0].message, /an IPv6 address with a port in brackets: \[fd00::1\]:6768/);
  });
  withFiles({ "local.json": { seeds } }, (cfgDir, dir) => {
    assert.deepEqual(resolveConfig({ cfgDir, env: { HOME: dir } }).params.seeds, seeds);
    const probs = problemsOf(() =>
      resolveConfig({ cfgDir, env: { HOME: dir, KUNAI_SEEDS: "10.0.0.1, x:y:z" } })
    );
    assert.deepEqual(probs.map((p) => [p.file, p.path]), [["env KUNAI_SEEDS", "seeds[1]"]]);
  });
});

Deno.test("an advertised addr that is not an IP or host name is a configuration error (peers refuse it)", () => {
  for (const good of ["10.0.0.5", "db-1.example.org", "fd00::1", ""]) {
    withFiles({ "local.json": { addr: good } }, (cfgDir, dir) => {
      assert.equal(resolveConfig({ cfgDir, env: { HOME: dir } }).params.addr, good);
    });
  }
  withFiles({ "local.json": { addr: "evil.example/x#" } }, (cfgDir, dir) => {
    const probs = problemsOf(() => resolveConfig({ cfgDir, env: { HOME: dir } }));
    assert.deepEqual(probs.map((p) => [p.file.slice(cfgDir.length + 1), p.path]), [["local.json", "addr"]]);
    assert.match(probs[0].message, /^"evil\.example\/x#" is not an IP address or host name/);
  });
});

Deno.test("an explicit --cfg-dir that does not exist is an error; the default may be absent", () => {
  const { dir, cleanup } = tempDir();
  try {
    const [p] = problemsOf(() => resolveConfig({ cfgDir: join(dir, "nope"), env: { HOME: dir } }));
    assert.match(p.message, /does not exist/);
    const cfg = resolveConfig({ dataDir: join(dir, "data"), env: { HOME: dir } });
    assert.equal(cfg.params.port, 6768);
  } finally {
    cleanup();
  }
});

Deno.test("data-dir configuration directories are walked after cfg_dir and override it", () => {
  withFiles({ "local.json": { port: 7000 } }, (cfgDir, dir) => {
    const data = join(dir, "data");
    Deno.mkdirSync(join(data, "local-configuration"), { recursive: true });
    Deno.writeTextFileSync(
      join(data, "local-configuration", "extra.json"),
      JSON.stringify({ port: 7001, check: { script: "x" } }),
    );
    const cfg = resolveConfig({ cfgDir, dataDir: data, env: { HOME: dir } });
    assert.equal(cfg.params.port, 7001);
    assert.ok(cfg.objects.check.extra);
    assert.equal(cfg.dirs.length, 4);
  });
});

Deno.test("config files are read in code-unit order of their names (the same on every host)", () => {
  const { dir, cleanup } = tempDir();
  try {
    Deno.mkdirSync(join(dir, "packs", "Zed"), { recursive: true });
    Deno.mkdirSync(join(dir, "packs", "alpha"), { recursive: true });
    for (
      const f of [
        "b.json",
        "B.json",
        "a.json",
        "a_b.yml",
        "a-b.json",
        "packs/Zed/x.json",
        "packs/alpha/x.json",
      ]
    ) {
      Deno.writeTextFileSync(join(dir, f), "{}");
    }
    // localeCompare would give a.json, a_b, a-b, b, B and alpha before Zed
    assert.deepEqual(listConfigFiles(dir).map((p) => p.slice(dir.length + 1)), [
      "B.json",
      "a-b.json",
      "a.json",
      "a_b.yml",
      "b.json",
      "packs/Zed/x.json",
      "packs/alpha/x.json",
    ]);
  } finally {
    cleanup();
  }
});

Deno.test("a configuration file nested deeper than 64 levels is refused naming the file and the path", () => {
  using t = tempDir();
  const cfg = join(t.dir, "etc");
  Deno.mkdirSync(cfg);
  const deep = "[".repeat(200_000) + "]".repeat(200_000);
  Deno.writeTextFileSync(join(cfg, "deep.json"), `{"check": {"interval": "10s", "notes": ${deep}}}`);
  assert.throws(
    () => resolveConfig({ cfgDir: cfg, env: { HOME: t.dir } }),
    (err: Error) =>
      err instanceof ConfigError &&
      /deep\.json.*check\.notes(\.0)+.*nested deeper than 64 levels/s.test(err.message),
  );
});

Deno.test("the original's Python plug-ins are said, not dropped without a word: collectors once per folder, module.py each", () => {
  const coll = (n: string) => [`packs/app/collectors/collector_${n}.py`, "class X(Collector): pass\n"];
  withFiles({
    "local.json": { data: "DATA" },
    ...Object.fromEntries(["a", "b", "c", "d", "e"].map(coll)),
    "packs/app/module.py": "import os\n",
    "packs/app/collectors/helper.py": "# not a collector\n",
    "scripts/collector_x.py": "# not in a collectors folder\n",
    "packs/app/collectors/c.json": { check: { critical_if: "False" } },
  }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, dataDir: join(dir, "data"), env: { HOME: dir } });
    assert.equal(cfg.warnings.length, 2, JSON.stringify(cfg.warnings));
    const byFile = Object.fromEntries(cfg.warnings.map((w) => [w.file, w.message]));
    assert.match(
      byFile[join(cfgDir, "packs/app/collectors")],
      /^5 Python collector\(s\) of the original \(collector_a\.py, collector_b\.py, collector_c\.py, collector_d\.py, \.\.\.\) do not run in kunai \(ignored\)/,
    );
    assert.match(byFile[join(cfgDir, "packs/app/module.py")], /Python hook module is not imported/);
    assert.ok(cfg.objects.check["packs/app/collectors/c"], "the folder's JSON still loads");
  });
});

Deno.test("a check naming a handler that means none (a typo, or a name several handlers end with) is a warning naming the file", () => {
  withFiles({
    "local.json": { data: "DATA" },
    "handlers/mail.json": { handler: { type: "mail", contacts: ["a@b.c"] } },
    "ops/mail.json": { handler: { type: "mail", contacts: ["o@b.c"] } },
    "handlers/hook.json": { handler: { type: "webhook", url: "http://127.0.0.1:9/x" } },
    "checks/ok.json": {
      check: { critical_if: "False", handlers: ["default", "handlers/mail", "hook", "ops/mail"] },
    },
    "checks/typo.json": { check: { critical_if: "False", handlers: ["mial"] } },
    "checks/short.json": { check: { critical_if: "False", handlers: ["mail"] } },
    "web.json": { service: { name: "web", check: { critical_if: "False", handlers: ["pager"] } } },
  }, (cfgDir, dir) => {
    const cfg = resolveConfig({ cfgDir, dataDir: join(dir, "data"), env: { HOME: dir } });
    const said = cfg.warnings.map((w) => `${w.file.slice(cfgDir.length + 1)} ${w.path}: ${w.message}`).sort();
    assert.deepEqual(said, [
      'checks/short.json check.handlers: handler "mail" matches several handlers (handlers/mail, ops/mail): none is used; name one by its id',
      'checks/typo.json check.handlers: handler "mial" matches no handler (there are: handlers/hook, handlers/mail, ops/mail)',
      'web.json service.check.handlers: handler "pager" matches no handler (there are: handlers/hook, handlers/mail, ops/mail)',
    ]);
  });
});
