import assert from "node:assert/strict";
import { join } from "node:path";
import { EvalError, evaluate, functionNames } from "../../lib/evaluator/mod.ts";
import { packageSources, parseDpkgStatus } from "../../lib/evaluator/io.ts";
import { tempDir } from "../helpers.ts";

const q = (s: string) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

Deno.test("the whitelist is exactly the thirteen documented functions, sorted", () => {
  assert.deepEqual(functionNames(), [
    "abs",
    "check_tcp",
    "fileexists",
    "float",
    "grep",
    "has_package",
    "int",
    "ip_in_range",
    "len",
    "max",
    "min",
    "round",
    "str",
  ]);
});

Deno.test("a name every object answers for is not a function: refused like any unknown one", async () => {
  for (
    const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__", "__defineGetter__"]
  ) {
    await assert.rejects(evaluate(`${name}('x')`), (e: unknown) => {
      assert.ok(e instanceof EvalError && e.kind === "name", `${name}: ${e}`);
      assert.match(e.message, new RegExp(`^function '${name}' is not allowed; known functions: abs, `));
      return true;
    });
  }
});

Deno.test("the centos detector rule works verbatim", async () => {
  let expected = false;
  try {
    expected = Deno.readTextFileSync("/etc/redhat-release").toLowerCase().includes("centos");
  } catch { /* not a Red Hat system */ }
  assert.equal(await evaluate("grep('centos', '/etc/redhat-release')"), expected);
});

Deno.test("grep matches case-insensitively, supports regexp=True and answers False for unreadable files", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, "redhat-release");
    Deno.writeTextFileSync(file, "CentOS Linux release 7.9.2009 (Core)\nsecond line\n");
    assert.equal(await evaluate(`grep('centos', ${q(file)})`), true);
    assert.equal(await evaluate(`grep('debian', ${q(file)})`), false);
    assert.equal(await evaluate(`grep('release 7', ${q(file)})`), true);
    assert.equal(await evaluate(`grep('^second', ${q(file)})`), false);
    assert.equal(await evaluate(`grep('^second', ${q(file)}, True)`), true);
    assert.equal(await evaluate(`grep('^CENTOS.*7\\.9', ${q(file)}, regexp=True)`), true);
    assert.equal(await evaluate(`grep(path=${q(file)}, text='core')`), true);
    assert.equal(
      await evaluate(`grep('release (?P<major>\\d+)', ${q(file)}, True)`),
      true,
      "Python named groups",
    );
    assert.equal(await evaluate(`grep('x', ${q(join(dir, "missing"))})`), false);
    assert.equal(await evaluate(`grep('x', ${q(dir)})`), false, "a directory is not readable as text");
    assert.equal(await evaluate("grep('x', '')"), false);
  } finally {
    cleanup();
  }
});

Deno.test("grep refuses invalid and exponential-backtracking regular expressions", async () => {
  for (const pattern of ["(a+)+$", "(a|a)*b", "(x*)*", "(a)\\1", "((ab)+)+", "(?P<x>a)(?P=x)"]) {
    await assert.rejects(evaluate(`grep(${q(pattern)}, '/etc/hostname', True)`), (err: unknown) => {
      assert.ok(err instanceof EvalError && err.kind === "runtime", `${pattern}: ${err}`);
      return true;
    });
  }
  await assert.rejects(evaluate("grep('(', '/etc/hostname', True)"), /is invalid/);
  await assert.rejects(
    evaluate("grep(1, '/etc/hostname')"),
    (e: unknown) => e instanceof EvalError && e.kind === "type",
  );
  // harmless shapes stay allowed
  assert.equal(typeof await evaluate("grep('(ab)?c+[x-z]*', '/etc/hostname', True)"), "boolean");
});

Deno.test("fileexists answers for files and directories, False otherwise", async () => {
  const { dir, cleanup } = tempDir();
  try {
    Deno.writeTextFileSync(join(dir, "redis.conf"), "port 6379\n");
    assert.equal(await evaluate(`fileexists(${q(join(dir, "redis.conf"))})`), true);
    assert.equal(await evaluate(`fileexists(${q(dir)})`), true);
    assert.equal(await evaluate(`fileexists(${q(join(dir, "nope"))})`), false);
    assert.equal(await evaluate("fileexists('')"), false);
    // a NUL cannot be in a path: no such file, rather than an error of the file system call
    assert.equal(await evaluate(`fileexists(${q(join(dir, "redis.conf"))} + '\\x00')`), false);
    assert.equal(await evaluate(`grep('port', ${q(join(dir, "redis.conf"))} + '\\x00')`), false);
    await assert.rejects(
      evaluate("fileexists(None)"),
      (e: unknown) => e instanceof EvalError && e.kind === "type",
    );
  } finally {
    cleanup();
  }
});

Deno.test("ip_in_range handles IPv4, IPv6, mapped addresses and reports bad input", async () => {
  const yes = [
    ["10.0.2.15", "10.0.2.0/24"],
    ["10.0.2.15", "0.0.0.0/0"],
    ["192.168.1.1", "192.168.1.1"],
    ["10.0.2.255", "10.0.2.7/24"],
    ["fe80::1", "fe80::/10"],
    ["2001:db8::dead:beef", "2001:db8::/32"],
    ["::ffff:10.0.2.9", "10.0.2.0/24"],
    ["::1", "::1/128"],
  ];
  const no = [
    ["10.0.3.1", "10.0.2.0/24"],
    ["10.0.2.15", "fe80::/10"],
    ["fe80::1", "10.0.0.0/8"],
    ["2001:db9::1", "2001:db8::/32"],
  ];
  for (const [ip, net] of yes) {
    assert.equal(await evaluate(`ip_in_range('${ip}', '${net}')`), true, `${ip} in ${net}`);
  }
  for (const [ip, net] of no) {
    assert.equal(await evaluate(`ip_in_range('${ip}', '${net}')`), false, `${ip} !in ${net}`);
  }
  for (
    const [ip, net] of [["10.0.2", "10.0.0.0/8"], ["10.0.2.1", "10.0.0.0/33"], ["1:2:3", "::/0"], ["x", "y"]]
  ) {
    await assert.rejects(evaluate(`ip_in_range('${ip}', '${net}')`), (e: unknown) => {
      assert.ok(e instanceof EvalError && e.kind === "runtime", String(e));
      assert.match(e.message, /does not appear to be an IPv4 or IPv6/);
      return true;
    });
  }
});

Deno.test("has_package reads the dpkg status file (installed only) without a shell", async () => {
  const { dir, cleanup } = tempDir();
  const saved = { ...packageSources };
  try {
    const status = join(dir, "status");
    Deno.writeTextFileSync(
      status,
      [
        "Package: postfix\nStatus: install ok installed\nVersion: 3.7\n",
        "Package: redis-server\nStatus: deinstall ok config-files\n",
        "Package: mongodb\nStatus: install ok not-installed\n",
        "Package: libc6\nArchitecture: amd64\nStatus: install ok installed\n",
      ].join("\n"),
    );
    packageSources.dpkgStatus = status;
    packageSources.rpm = [join(dir, "no-rpm-here")];
    assert.equal(await evaluate("has_package('postfix')"), true);
    assert.equal(await evaluate("has_package('libc6')"), true);
    assert.equal(await evaluate("has_package('redis-server')"), false);
    assert.equal(await evaluate("has_package('mongodb')"), false);
    assert.equal(await evaluate("has_package('nginx')"), false);
    assert.equal(
      await evaluate("has_package('postfix; rm -rf /')"),
      false,
      "names that are not package names",
    );
    assert.deepEqual([...parseDpkgStatus(Deno.readTextFileSync(status))].sort(), ["libc6", "postfix"]);
  } finally {
    Object.assign(packageSources, saved);
    cleanup();
  }
});

Deno.test("has_package falls back to rpm -q with argv (no shell)", async () => {
  const { dir, cleanup } = tempDir();
  const saved = { ...packageSources };
  try {
    const rpm = join(dir, "rpm");
    // a fake rpm that knows only 'httpd' and records its argv
    Deno.writeTextFileSync(rpm, `#!/bin/sh\necho "$@" > ${dir}/argv\n[ "$4" = httpd ]\n`);
    Deno.chmodSync(rpm, 0o755);
    packageSources.dpkgStatus = join(dir, "no-dpkg");
    packageSources.rpm = [rpm];
    assert.equal(await evaluate("has_package('httpd')"), true);
    assert.equal(Deno.readTextFileSync(join(dir, "argv")).trim(), "-q --quiet -- httpd");
    assert.equal(await evaluate("has_package('nginx')"), false);
  } finally {
    Object.assign(packageSources, saved);
    cleanup();
  }
});

Deno.test("check_tcp connects to an open port and answers False for a closed one", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })();
  try {
    assert.equal(await evaluate(`check_tcp('127.0.0.1', ${port})`), true);
    assert.equal(await evaluate(`check_tcp('127.0.0.1', ${port}, timeout=2)`), true);
    assert.equal(await evaluate(`check_tcp(host='127.0.0.1', port=${port}, timeout=0.5)`), true);
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
  assert.equal(await evaluate(`check_tcp('127.0.0.1', ${port}, 1)`), false);
  await assert.rejects(evaluate("check_tcp('127.0.0.1', 70000)"), /out of range/);
  await assert.rejects(
    evaluate("check_tcp('127.0.0.1', 'x')"),
    (e: unknown) => e instanceof EvalError && e.kind === "type",
  );
  await assert.rejects(evaluate("check_tcp('127.0.0.1', 80, 0)"), /timeout must be a positive number/);
});

Deno.test("arguments are bound like Python: arity and keyword errors are type errors", async () => {
  const cases: Array<[string, RegExp]> = [
    ["abs()", /abs\(\) missing required argument 'x'/],
    ["abs(1, 2)", /abs\(\) takes 1 positional arguments but 2 were given/],
    ["abs(x=1)", /abs\(\) takes no keyword arguments/],
    ["grep('a')", /grep\(\) missing required argument 'path'/],
    ["grep('a', '/x', colour=1)", /unexpected keyword argument 'colour'/],
    ["grep('a', '/x', text='b')", /multiple values for argument 'text'/],
    ["min()", /min expected at least 1 argument, got 0/],
    ["max(1, 2, key=3)", /max\(\) takes no keyword arguments/],
    ["round(1.5, 'x')", /'str' object cannot be interpreted as an integer/],
  ];
  for (const [expr, message] of cases) {
    await assert.rejects(evaluate(expr), (err: unknown) => {
      assert.ok(err instanceof EvalError && err.kind === "type", `${expr}: ${err}`);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.equal(await evaluate("round(number=2.675, ndigits=2)"), 2.67);
  assert.equal(await evaluate("int('ff', base=16)"), 255);
});

Deno.test("more than 16 file or network calls in one expression is a limit error", async () => {
  const many = Array.from({ length: 17 }, () => "fileexists('/')").join(" and ");
  await assert.rejects(evaluate(many), (e: unknown) => e instanceof EvalError && e.kind === "limit");
  const sixteen = Array.from({ length: 16 }, () => "fileexists('/')").join(" and ");
  assert.equal(await evaluate(sixteen), true);
});

Deno.test("has_package: an rpm binary found missing is not spawned again on every evaluation", async () => {
  const { dir, cleanup } = tempDir();
  const saved = { ...packageSources };
  try {
    const rpm = join(dir, "rpm-later");
    packageSources.dpkgStatus = join(dir, "no-dpkg");
    packageSources.rpm = [rpm];
    assert.equal(await evaluate("has_package('httpd')"), false);
    // rpm appears (a fake one that knows every package): the miss is remembered for a while
    Deno.writeTextFileSync(rpm, "#!/bin/sh\nexit 0\n");
    Deno.chmodSync(rpm, 0o755);
    assert.equal(await evaluate("has_package('httpd')"), false);
    packageSources.rpm = [join(dir, "rpm-other")];
    Deno.writeTextFileSync(join(dir, "rpm-other"), "#!/bin/sh\nexit 0\n");
    Deno.chmodSync(join(dir, "rpm-other"), 0o755);
    assert.equal(await evaluate("has_package('httpd')"), true, "another path is tried");
  } finally {
    Object.assign(packageSources, saved);
    cleanup();
  }
});
