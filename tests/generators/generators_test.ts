import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyPartial,
  createGenerators,
  okNodes,
  PartialError,
  runCommand,
} from "../../lib/generators/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { makeTestCtx, REPO, tempDir, type TestCtx } from "../helpers.ts";
import { readIfExists } from "../../lib/fs/mod.ts";

function member(i: number, http: number | null, state: MemberRecord["state"] = "alive"): MemberRecord {
  return {
    uuid: `uuid-${i}`,
    name: `node-${i}`,
    addr: `10.0.0.${i}`,
    port: 6768,
    incarnation: 1,
    state,
    tags: i === 1 ? ["haproxy"] : ["http"],
    services: http === null ? {} : { http: { name: "http", port: 8080 + i, state_id: http } },
    zone: "",
  };
}

interface World {
  ctx: TestCtx;
  out: string;
  counter: string;
  members: MemberRecord[];
  kv: Map<string, string>;
}

/** `gen` runs on every node unless it says otherwise (`apply_on: undefined`: the default, its name). */
function world(gen: Record<string, unknown>, template: string, clock?: VirtualClock): World {
  const ctx = makeTestCtx({
    clock,
    files: {
      "generators/lb.json": { generator: { apply_on: "*", ...gen } },
      "generators/templates/lb.tpl": template,
    },
  });
  const w: World = {
    ctx,
    out: join(ctx.dir, "out.cfg"),
    counter: join(ctx.dir, "runs"),
    members: [member(1, null), member(2, 0), member(3, 2)],
    kv: new Map([["lb/maxconn", "512"]]),
  };
  return w;
}

function generators(w: World) {
  return createGenerators(w.ctx, {
    membership: { self: () => w.members[0], members: () => w.members },
    kvGet: (k) => Promise.resolve(w.kv.get(k) ?? null),
  });
}

const TEMPLATE = `maxconn {{ kv('lb/maxconn') }}
{% for node, service in ok_nodes(service='http') %}
server {{ node.name }} {{ node.addr }}:{{ service.port }} check
{% endfor %}
nodes {{ nodes | length }}
`;

function runs(w: World): number {
  try {
    return Deno.readTextFileSync(w.counter).split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

Deno.test("a template over 3 nodes renders the OK http members and a KV value", async () => {
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const g = generators(w);
    await g.runNow();
    assert.equal(Deno.readTextFileSync(w.out), "maxconn 512\nserver node-2 10.0.0.2:8082 check\nnodes 3\n");
    const st = g.list()[0];
    assert.deepEqual(st.kv_keys, ["lb/maxconn"]);
    assert.equal(st.applies, true);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("the command runs once per real change of the file and not when nothing changed", async () => {
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE);
  try {
    const gen = w.ctx.config.objects.generator["generators/lb"].value;
    gen.path = w.out;
    gen.command = `echo run >> '${w.counter}'`;
    const g = generators(w);
    await g.runNow();
    assert.equal(runs(w), 1);
    await g.runNow();
    await g.runNow();
    assert.equal(runs(w), 1, "no change, no command");
    const before = Deno.statSync(w.out).mtime;
    w.members[2] = member(3, 0); // node-3's http turns OK
    await g.runNow();
    assert.equal(runs(w), 2);
    assert.match(Deno.readTextFileSync(w.out), /server node-3 10\.0\.0\.3:8083 check/);
    assert.notDeepEqual(Deno.statSync(w.out).mtime, before);
    await g.runNow();
    assert.equal(runs(w), 2);
    assert.equal(g.list()[0].command_runs, 2);
    assert.equal(g.list()[0].last_command?.code, 0);
  } finally {
    w.ctx.cleanup();
  }
});

/** The lb generator writing `w.out`, its command counting runs in `w.counter`; where its pending note goes. */
function commandWorld() {
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE);
  const gen = w.ctx.config.objects.generator["generators/lb"].value;
  gen.path = w.out;
  gen.command = `echo run >> '${w.counter}'`;
  return { w, gen, pendingFile: join(w.ctx.config.params.data, "generators-pending.json") };
}

Deno.test("a file written by a run that died before its command ended gets the command at the next run", async () => {
  const { w, gen, pendingFile } = commandWorld();
  try {
    // the agent "dies" while its command runs: the file is written, the command never ends here
    gen.command = "sleep 30";
    gen.command_timeout = 3000;
    const dying = generators(w);
    const first = dying.runNow();
    const noted = () => {
      try {
        return Deno.readTextFileSync(pendingFile).includes("generators/lb");
      } catch {
        return false;
      }
    };
    const written = () => {
      try {
        return /server node-2/.test(Deno.readTextFileSync(w.out));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 300 && !(noted() && written()); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(noted() && written(), "the file written, its command running");
    // the next run of the agent: same content, so only the note says the command is owed
    gen.command = `echo run >> '${w.counter}'`;
    const next = generators(w);
    await next.runNow();
    assert.equal(runs(w), 1, "the command ran for the file the previous run wrote");
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(pendingFile)), {});
    assert.ok(w.ctx.sink.recent.WARNING.some((l) => /command did not end then: running it now/.test(l)));
    await next.runNow();
    assert.equal(runs(w), 1, "once");
    await first;
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a file whose command cannot be noted as owed (the note unwritable) is not written", async () => {
  const { w, pendingFile } = commandWorld();
  try {
    Deno.mkdirSync(pendingFile, { recursive: true }); // a directory where the note goes: it cannot be saved
    const g = generators(w);
    await g.runNow();
    assert.equal(readIfExists(w.out), null, "not written");
    assert.equal(runs(w), 0);
    assert.match(
      g.list()[0].last_error,
      /cannot save .*generators-pending\.json.*written once its command can be noted/,
    );
    Deno.removeSync(pendingFile, { recursive: true });
    await g.runNow();
    assert.match(Deno.readTextFileSync(w.out), /server node-2/);
    assert.equal(runs(w), 1);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a command owed by a generator removed from the configuration is dropped at the next run, said in the log", async () => {
  const { w, pendingFile } = commandWorld();
  try {
    Deno.writeTextFileSync(
      pendingFile,
      JSON.stringify({ "generators/gone": { path: "/etc/gone.conf", since: 1 } }),
    );
    const g = generators(w);
    await g.runNow();
    assert.deepEqual(
      JSON.parse(Deno.readTextFileSync(pendingFile)),
      {},
      "the removed generator's entry is gone",
    );
    assert.equal(runs(w), 1, "the configured generator ran its own command");
    assert.ok(
      w.ctx.sink.recent.WARNING.some((l) =>
        /generator generators\/gone: no longer configured; the command owed for \/etc\/gone\.conf is dropped/
          .test(l)
      ),
      w.ctx.sink.recent.WARNING.join("\n"),
    );
    // every generator removed: no run comes, the start drops what they were owed
    Deno.writeTextFileSync(pendingFile, JSON.stringify({ "generators/lb": { path: w.out, since: 1 } }));
    delete w.ctx.config.objects.generator["generators/lb"];
    const none = generators(w);
    await none.start();
    await none.stop();
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(pendingFile)), {});
    assert.equal(runs(w), 1);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("partial markers: only the block between them is replaced, the rest of the file is kept", async () => {
  const w = world({
    path: "set-below",
    template: "lb.tpl",
    partial_start: "# BEGIN kunai",
    partial_end: "# END kunai",
  }, TEMPLATE);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    Deno.writeTextFileSync(w.out, "# my header\nkeep 1\n# BEGIN kunai\nold stuff\n# END kunai\nkeep 2\n");
    Deno.chmodSync(w.out, 0o640);
    const g = generators(w);
    await g.runNow();
    assert.equal(
      Deno.readTextFileSync(w.out),
      "# my header\nkeep 1\n# BEGIN kunai\nmaxconn 512\nserver node-2 10.0.0.2:8082 check\nnodes 3\n# END kunai\nkeep 2\n",
    );
    assert.equal(Deno.statSync(w.out).mode! & 0o777, 0o640, "the mode of the replaced file is kept");
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a template error leaves the old file intact and runs no command", async () => {
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE);
  try {
    const gen = w.ctx.config.objects.generator["generators/lb"].value;
    gen.path = w.out;
    gen.command = `echo run >> '${w.counter}'`;
    const g = generators(w);
    await g.runNow();
    const good = Deno.readTextFileSync(w.out);
    Deno.writeTextFileSync(join(w.ctx.config.cfgDir, "generators/templates/lb.tpl"), "{% for x in %}broken");
    w.members[2] = member(3, 0);
    await g.runNow();
    assert.equal(Deno.readTextFileSync(w.out), good);
    assert.equal(runs(w), 1);
    assert.match(g.list()[0].last_error, /lb\.tpl/);
    // an error while rendering names the template's line and what was wrong (the attribute of an
    // undefined value printed nothing before, as the attribute of an undefined value)
    Deno.writeTextFileSync(
      join(w.ctx.config.cfgDir, "generators/templates/lb.tpl"),
      "backend x\n{% for n in nodes.values() %}\n  server {{ n.nmae.upper() }}\n{% endfor %}\n",
    );
    await g.runNow();
    assert.equal(Deno.readTextFileSync(w.out), good);
    assert.match(
      g.list()[0].last_error,
      /template lb\.tpl \(.*lb\.tpl\): line 3, column \d+: UndefinedError: 'n\.nmae' is undefined$/,
    );
    assert.deepEqual([...Deno.readDirSync(w.ctx.dir)].filter((e) => e.name.endsWith(".tmp")), []);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("an error while rendering names the template file and line it happened in", async () => {
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const dir = join(w.ctx.config.cfgDir, "generators/templates");
    Deno.writeTextFileSync(
      join(dir, "macros.tpl"),
      "{% macro server(n) %}\n  server {{ n.name }}\n  {{ n.addr.nope.x }}\n{% endmacro %}\n" +
        "{% macro ok(n) %}{{ n.name }}{% endmacro %}\n",
    );
    Deno.writeTextFileSync(join(dir, "header.tpl"), "# header\n# {{ nodes|length }} nodes\n");
    const g = generators(w);
    await g.runNow();
    const good = Deno.readTextFileSync(w.out);
    const lb = "template lb\\.tpl \\(.*lb\\.tpl\\): ";
    const cases: Array<[string, RegExp]> = [
      // calling an undefined attribute, at render time
      [
        "a\n{% for n in nodes.values() %}\n{{ n.name.nope() }}\n{% endfor %}\n",
        new RegExp(
          `^${lb}line 3, column \\d+: UndefinedError: Unable to call \`n\\.name\\.nope\`, which is undefined$`,
        ),
      ],
      // a filter given arguments it does not take
      [
        "a\n\n{{ nodes|join(',', 'name', 3) }}\n",
        new RegExp(`^${lb}line 3, column \\d+: TypeError: filter join\\(\\)`),
      ],
      [
        "a\n{{ nodes.values()|sort(attribute='name', reversed=true) }}\n",
        new RegExp(`^${lb}line 2, .*'reversed'`),
      ],
      ["a\n{{ '%d' % node.name }}\n", new RegExp(`^${lb}line 2, column \\d+: TypeError: %d format`)],
      // in a macro of an imported template: that template's line (it was the caller's)
      [
        "{% import 'macros.tpl' as m %}\na\n{% for n in nodes.values() %}\n{{ m.server(n) }}\n{% endfor %}\n",
        new RegExp(
          `^${lb}in .*macros\\.tpl line 3, column \\d+: UndefinedError: 'n\\.addr\\.nope' is undefined$`,
        ),
      ],
      // after an import or an include: this template's line (it was the other template's, at its line)
      [
        "{% from 'macros.tpl' import ok %}\n{{ ok(node) }}\n\n{{ node.nope.x }}\n",
        new RegExp(`^${lb}line 4, column \\d+: UndefinedError: 'node\\.nope' is undefined$`),
      ],
      [
        "{% include 'header.tpl' %}\nx\ny\n{{ node.nope.x }}\n",
        new RegExp(`^${lb}line 4, column \\d+: UndefinedError: 'node\\.nope' is undefined$`),
      ],
    ];
    for (const [text, expected] of cases) {
      Deno.writeTextFileSync(join(dir, "lb.tpl"), text);
      await g.runNow();
      assert.equal(Deno.readTextFileSync(w.out), good, text);
      assert.match(g.list()[0].last_error, expected, text);
    }
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a generator applies only on nodes with its apply_on tag", async () => {
  const w = world({ path: "set-below", template: "lb.tpl", apply_on: "nginx" }, TEMPLATE);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const g = generators(w);
    await g.runNow();
    assert.throws(() => Deno.statSync(w.out), Deno.errors.NotFound);
    assert.equal(g.list()[0].applies, false);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a generator without apply_on runs only on nodes tagged with its name, as the original", async () => {
  const w = world({ path: "set-below", template: "lb.tpl", apply_on: undefined }, TEMPLATE);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const g = generators(w);
    await g.runNow();
    assert.throws(() => Deno.statSync(w.out), Deno.errors.NotFound, "not on a node tagged haproxy");
    assert.equal(g.list()[0].apply_on, "generators/lb");
    assert.equal(g.list()[0].applies, false);
    w.members[0] = { ...w.members[0], tags: ["haproxy", "generators/lb"] };
    await g.runNow();
    assert.equal(Deno.readTextFileSync(w.out), "maxconn 512\nserver node-2 10.0.0.2:8082 check\nnodes 3\n");
    assert.equal(g.list()[0].applies, true);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a burst of membership and KV events gives one debounced render", async () => {
  const clock = new VirtualClock();
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE, clock);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const g = generators(w);
    await g.start();
    await clock.advance(1000);
    await g.runNow(); // settle the start render
    const base = g.list()[0].renders;
    for (let i = 0; i < 5; i++) w.ctx.bus.emit("member.updated", w.members[1]);
    w.ctx.bus.emit("kv.changed", { key: "lb/maxconn", modify_index: 2, deleted: false });
    w.ctx.bus.emit("kv.changed", { key: "unrelated/key", modify_index: 3, deleted: false });
    w.kv.set("lb/maxconn", "1024");
    await clock.advance(1000);
    await g.runNow(); // waits for the debounced run, then renders once more
    assert.equal(g.list()[0].renders, base + 2);
    assert.match(Deno.readTextFileSync(w.out), /^maxconn 1024\n/);
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("runCommand kills the whole process group on timeout", async () => {
  const w = world({ path: "/nonexistent", template: "lb.tpl" }, TEMPLATE);
  try {
    const marker = join(w.ctx.dir, "late");
    const res = await runCommand(`(sleep 1; touch '${marker}') & sleep 30`, 200);
    assert.equal(res.timedOut, true);
    await new Promise((r) => setTimeout(r, 1500));
    assert.throws(
      () => Deno.statSync(marker),
      Deno.errors.NotFound,
      "the background child died with its group",
    );
    const ok = await runCommand("echo hello; echo oops >&2; exit 3", 5000);
    assert.deepEqual([ok.code, ok.output, ok.timedOut], [3, "hello\noops\n", false]);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("applyPartial appends a missing block and refuses a start marker without its end", () => {
  assert.equal(applyPartial(null, "x", "#S", "#E"), "#S\nx\n#E\n");
  assert.equal(applyPartial("a\n", "x\n", "#S", "#E"), "a\n#S\nx\n#E\n");
  assert.throws(() => applyPartial("#S\nold\n", "x", "#S", "#E"), PartialError);
});

Deno.test("applyPartial refuses a rendered block holding a marker line: the file would not read back", () => {
  // a forged node name "x\n#E" in the block: the next render found that line as the end, kept the rest of
  // the old block as the file owner's text and grew the file by it at every render
  const file = "mine\n#S\nold\n#E\ntail\n";
  const forged = "node a\n  #E  \nnode b\n";
  assert.throws(() => applyPartial(file, forged, "#S", "#E"), (e: Error) => {
    assert.ok(e instanceof PartialError);
    assert.match(e.message, /line 2 of the rendered text is the end marker "#E"/);
    return true;
  });
  assert.throws(
    () => applyPartial(null, "#S\n", "#S", "#E"),
    /line 1 of the rendered text is the start marker/,
  );
  // a marker inside a longer line is text
  assert.equal(applyPartial(file, "a #E b\n", "#S", "#E"), "mine\n#S\na #E b\n#E\ntail\n");
  assert.equal(
    applyPartial(applyPartial(file, "x\n", "#S", "#E"), "x\n", "#S", "#E"),
    "mine\n#S\nx\n#E\ntail\n",
  );
});

Deno.test("the shipped haproxy sample renders one server line per OK http node", async () => {
  const sample = JSON.parse(Deno.readTextFileSync(join(REPO, "templates/samples/generators/haproxy.json")));
  const w = world({ ...sample.generator, command: "" }, "unused");
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    w.members[2] = member(3, 0);
    const g = generators(w);
    await g.runNow();
    const text = Deno.readTextFileSync(w.out);
    assert.match(
      text,
      /backend http-servers\n {4}balance roundrobin\n {4}server 10\.0\.0\.2 10\.0\.0\.2:8082 check\n {4}server 10\.0\.0\.3 10\.0\.0\.3:8083 check\n$/,
    );
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("the haproxy sample writes a service port from the network as a number, never as config lines", async () => {
  // services are free-form JSON from other nodes: a port of text went into haproxy.cfg as it was,
  // adding a listener (and the reload command then applied it)
  const sample = JSON.parse(Deno.readTextFileSync(join(REPO, "templates/samples/generators/haproxy.json")));
  const w = world({ ...sample.generator, command: "" }, "unused");
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const evil = "8083 check\nlisten stolen\n    bind *:9999\n    server x 6.6.6.6:80";
    w.members[2] = { ...member(3, 0), services: { http: { name: "http", port: evil, state_id: 0 } } };
    const g = generators(w);
    await g.runNow();
    const text = Deno.readTextFileSync(w.out);
    assert.doesNotMatch(text, /stolen|9999|6\.6\.6\.6/);
    assert.match(
      text,
      / {4}server 10\.0\.0\.2 10\.0\.0\.2:8082 check\n {4}server 10\.0\.0\.3 10\.0\.0\.3:80 check\n$/,
    );
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("GET /agent/generators lists the generators; /agent/generators/:name answers one or 404", async () => {
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const g = generators(w);
    await g.runNow();
    const routes = g.routes!() as import("../../lib/routing/mod.ts").RouteTable;
    assert.ok(routes.routes.every((r) => r.access === "read"));
    const table = buildApp([routes], {
      token: "",
      maxBody: 1 << 20,
      log: w.ctx.log,
      counters: w.ctx.counters,
    });
    const all = await (await table.request("/agent/generators")).json();
    assert.equal(all.length, 1);
    assert.equal(all[0].name, "generators/lb");
    assert.equal(all[0].writes, 1);
    assert.equal(all[0].templateDirs, undefined, "internal search path not exposed");
    const one = await table.request("/agent/generators/generators/lb");
    assert.equal(one.status, 200);
    assert.equal((await one.json()).path, w.out);
    const missing = await table.request("/agent/generators/nope");
    assert.equal(missing.status, 404);
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("KV values are re-read periodically, since kv.changed fires only on replica nodes", async () => {
  const clock = new VirtualClock();
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE, clock);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const g = generators(w);
    await g.start();
    await clock.advance(1000);
    await g.runNow();
    assert.match(Deno.readTextFileSync(w.out), /^maxconn 512\n/);
    w.kv.set("lb/maxconn", "2048"); // changed elsewhere: no kv.changed here
    await clock.advance(31_000);
    await clock.advance(1000);
    await g.runNow();
    assert.match(Deno.readTextFileSync(w.out), /^maxconn 2048\n/);
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("no KV value read by a template: no refresh timer (a cached value is re-read: the test above)", async () => {
  const clock = new VirtualClock();
  const w = world({ path: "set-below", template: "lb.tpl" }, "nodes {{ nodes | length }}\n", clock);
  let reads = 0;
  w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
  const g = createGenerators(w.ctx, {
    membership: { self: () => w.members[0], members: () => w.members },
    kvGet: (k) => (reads++, Promise.resolve(w.kv.get(k) ?? null)),
  });
  try {
    await g.start();
    await clock.advance(1000);
    await g.runNow();
    assert.equal(clock.pending, 0, "nothing cached: no timer waits to refresh it");
    await clock.advance(5 * 60_000);
    assert.equal(reads, 0);
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("no generator configured: membership and KV events arm no timer", async () => {
  const clock = new VirtualClock();
  const ctx = makeTestCtx({ clock });
  const members = [member(1, null), member(2, 0)];
  const g = createGenerators(ctx, {
    membership: { self: () => members[0], members: () => members },
    kvGet: () => Promise.resolve(null),
  });
  try {
    await g.start();
    await clock.advance(1000);
    for (let i = 0; i < 5; i++) ctx.bus.emit("member.updated", members[1]);
    ctx.bus.emit("kv.changed", { key: "lb/maxconn", modify_index: 2, deleted: false });
    assert.equal(clock.pending, 0, "a debounce timer was armed with nothing to render");
    await g.stop();
  } finally {
    ctx.cleanup();
  }
});

Deno.test("ok_nodes come in code-unit order of names, as Python sorts them, whatever the host's locale", () => {
  const named = (i: number, name: string) => ({ ...member(i, 0), name });
  const nodes = [named(1, "web-b"), named(2, "web-a"), named(3, "Web-a"), named(4, "web-a"), named(5, "db")];
  // localeCompare (ICU, any locale) gives db, web-a, web-a, Web-a, web-b: an order that belongs to the host
  assert.deepEqual(okNodes(nodes, "http").map(([n]) => `${n.name}/${n.uuid}`), [
    "Web-a/uuid-3",
    "db/uuid-5",
    "web-a/uuid-2",
    "web-a/uuid-4",
    "web-b/uuid-1",
  ]);
});

Deno.test("a KV key changed while a render reads it is read again, not cached at its old value", async () => {
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    let first = true;
    const g = createGenerators(w.ctx, {
      membership: { self: () => w.members[0], members: () => w.members },
      kvGet: async (k) => {
        const value = w.kv.get(k) ?? null; // what the owner answered...
        if (first) {
          first = false;
          // ...while a write lands here and kv.changed fires before the answer arrives
          w.kv.set(k, "2048");
          w.ctx.bus.emit("kv.changed", { key: k, modify_index: 2, deleted: false });
        }
        await Promise.resolve();
        return value;
      },
    });
    await g.start(); // (wires kv.changed)
    await g.runNow();
    assert.match(
      Deno.readTextFileSync(w.out),
      /^maxconn 2048\n/,
      "the value read before the change is not used",
    );
    await g.runNow();
    assert.match(Deno.readTextFileSync(w.out), /^maxconn 2048\n/);
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});

/** Generators of `w` writing to `w.out`, started and run once, with each KV read pushed on `reads`. */
async function startCountingReads(w: World, clock: VirtualClock, reads: string[]) {
  w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
  const g = createGenerators(w.ctx, {
    membership: { self: () => w.members[0], members: () => w.members },
    kvGet: (k) => (reads.push(k), Promise.resolve(w.kv.get(k) ?? null)),
  });
  await g.start();
  await clock.advance(1000);
  await g.runNow();
  return g;
}

Deno.test("KV values no template reads any more are dropped from the cache and no longer re-read", async () => {
  const clock = new VirtualClock();
  const w = world(
    { path: "set-below", template: "lb.tpl" },
    "{% for uuid in nodes %}{{ kv('w/' ~ nodes[uuid].name) }}\n{% endfor %}",
    clock,
  );
  const reads: string[] = [];
  try {
    const g = await startCountingReads(w, clock, reads);
    assert.deepEqual(g.list()[0].kv_keys, ["w/node-1", "w/node-2", "w/node-3"], JSON.stringify(g.list()[0]));
    w.members.splice(1, 2); // node-2 and node-3 leave
    await g.runNow();
    assert.deepEqual(g.list()[0].kv_keys, ["w/node-1"]);
    reads.length = 0;
    await clock.advance(31_000); // the periodic re-read
    assert.deepEqual(reads, ["w/node-1"], "only what a template still reads is re-read");
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a reload that removes the last generator stops the re-reads of the KV keys it read", async () => {
  const clock = new VirtualClock();
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE, clock);
  const reads: string[] = [];
  try {
    const g = await startCountingReads(w, clock, reads);
    assert.deepEqual(reads, ["lb/maxconn"]);
    delete w.ctx.config.objects.generator["generators/lb"];
    w.ctx.bus.emit("config.reloaded", { files: [] });
    reads.length = 0;
    await clock.advance(95_000);
    assert.deepEqual(reads, [], "no generator reads it any more");
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a reload during a run: a generator it moved is not written at its old path", async () => {
  const { dir, cleanup } = tempDir("kunai-gen-reload-");
  const ctx = makeTestCtx({
    files: {
      "generators/a.json": {
        generator: { path: join(dir, "a.cfg"), template: "t.tpl", command: "sleep 0.4", apply_on: "*" },
      },
      "generators/b.json": { generator: { path: join(dir, "b-old.cfg"), template: "t.tpl", apply_on: "*" } },
      "generators/templates/t.tpl": "x\n",
    },
  });
  try {
    const g = createGenerators(ctx, {
      membership: { self: () => member(1, 0), members: () => [member(1, 0)] },
    });
    await g.start();
    const run = g.runNow(); // a's command holds the run for 0.4 s
    await new Promise((r) => setTimeout(r, 100));
    ctx.config.objects.generator["generators/b"].value.path = join(dir, "b-new.cfg");
    ctx.bus.emit("config.reloaded", { files: [] });
    await run;
    await g.runNow();
    assert.equal(Deno.readTextFileSync(join(dir, "b-new.cfg")), "x\n");
    assert.throws(
      () => Deno.statSync(join(dir, "b-old.cfg")),
      Deno.errors.NotFound,
      "written at the old path",
    );
    await g.stop();
  } finally {
    ctx.cleanup();
    cleanup();
  }
});

Deno.test("while the start's join is on its way nothing is rendered (the file stays); once joined, one render", async () => {
  const clock = new VirtualClock();
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE, clock);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    Deno.writeTextFileSync(w.out, "the file of the last run\n");
    const info: string[] = [];
    w.ctx.sink.tap("INFO", (l) => info.push(l));
    let joining = true;
    let reads = 0;
    const self = w.members[0];
    const g = createGenerators(w.ctx, {
      // before the join this node knows itself alone
      membership: { self: () => self, members: () => joining ? [self] : w.members, joining: () => joining },
      kvGet: (k) => {
        reads++;
        return Promise.resolve(joining ? null : w.kv.get(k) ?? null);
      },
    });
    await g.start();
    await clock.advance(10_000);
    assert.equal(Deno.readTextFileSync(w.out), "the file of the last run\n");
    assert.equal(reads, 0, "no KV read before the join");
    assert.equal((g.info!() as { waiting_for_join: boolean }).waiting_for_join, true);
    const held = g.list()[0];
    assert.deepEqual(
      [held.applies, held.renders, held.waiting_for_join],
      [true, 0, true],
      "it applies, not run yet",
    );
    assert.equal(info.filter((l) => /first render waits for the join/.test(l)).length, 1, "said once");
    joining = false; // the join returned (its member.joined events came before: no event now)
    await clock.advance(1_500);
    await g.runNow(); // waits for the run the poll started
    const text = Deno.readTextFileSync(w.out);
    assert.match(text, /^maxconn 512\n/);
    assert.match(text, /nodes 3\n/);
    assert.equal((g.info!() as { waiting_for_join: boolean }).waiting_for_join, false);
    assert.equal(g.list()[0].waiting_for_join, false);
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a KV outage (503) keeps a template's last value, said once, and the file as it was", async () => {
  const clock = new VirtualClock();
  const w = world({ path: "set-below", template: "lb.tpl" }, TEMPLATE, clock);
  try {
    w.ctx.config.objects.generator["generators/lb"].value.path = w.out;
    const info: string[] = [];
    w.ctx.sink.tap("INFO", (l) => info.push(l));
    let down = false;
    const g = createGenerators(w.ctx, {
      membership: { self: () => w.members[0], members: () => w.members },
      kvGet: (k) =>
        down
          ? Promise.reject(new Error("the KV store is unavailable: no node tagged kv is alive (kv1 dead)"))
          : Promise.resolve(w.kv.get(k) ?? null),
    });
    await g.start();
    await clock.advance(1000);
    await g.runNow();
    const before = Deno.readTextFileSync(w.out);
    assert.match(before, /^maxconn 512\n/);
    down = true;
    await clock.advance(3 * 30_000); // three refreshes
    w.members.push(member(4, 0)); // and a membership change: a render from the cached value
    w.ctx.bus.emit("member.joined", w.members[3]);
    await clock.advance(1000);
    await g.runNow();
    assert.match(Deno.readTextFileSync(w.out), /^maxconn 512\n(.*\n)*server node-4 /);
    const said = w.ctx.sink.recent.WARNING.filter((l) => /cannot re-read KV key lb\/maxconn/.test(l));
    assert.equal(said.length, 1, said.join("\n"));
    down = false;
    w.kv.set("lb/maxconn", "1024");
    await clock.advance(30_000);
    await g.runNow();
    assert.match(Deno.readTextFileSync(w.out), /^maxconn 1024\n/);
    assert.ok(info.some((l) => /KV key lb\/maxconn read again/.test(l)));
    await g.stop();
  } finally {
    w.ctx.cleanup();
  }
});
