import assert from "node:assert/strict";
import { type EvalEnv, EvalError, evaluate, evaluateBool, substitute } from "../../lib/evaluator/mod.ts";
import type { CollectorResultsView } from "../../lib/types.ts";

function view(results: Record<string, Record<string, unknown>>): CollectorResultsView {
  return { get: (n) => results[n], names: () => Object.keys(results) };
}

/** A lookup over a check's own keys, then global data, like the checks subsystem does. */
function lookupIn(...layers: Record<string, unknown>[]): (path: string) => unknown {
  return (path) => {
    for (const layer of layers) {
      let v: unknown = layer;
      for (const k of path.split(".")) {
        v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
      }
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

// The README's cpu check, verbatim.
const README_CHECK = {
  ok_output: "'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
  critical_if: "{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.critical}",
  critical_output: "'Critical: cpu is too high: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
  warning_if: "{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.warning}",
  warning_output: "'Warning: cpu is very high: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
  thresholds: { cpuidle: { warning: 5, critical: 1 } },
};

function cpuEnv(idle: number): EvalEnv {
  return {
    collectors: view({ cpustats: { cpuall: { "%usr": 1.5, "%idle": idle }, cpu0: { "%idle": idle } } }),
    lookup: lookupIn(README_CHECK),
  };
}

Deno.test("the README's cpu check expressions work verbatim", async () => {
  const calm = cpuEnv(97.5);
  assert.equal(await evaluate(README_CHECK.critical_if, calm), false);
  assert.equal(await evaluate(README_CHECK.warning_if, calm), false);
  assert.equal(await evaluate(README_CHECK.ok_output, calm), "OK: cpu is great: 2.5%");

  const busy = cpuEnv(3.25);
  assert.equal(await evaluate(README_CHECK.critical_if, busy), false);
  assert.equal(await evaluate(README_CHECK.warning_if, busy), true);
  assert.equal(await evaluate(README_CHECK.warning_output, busy), "Warning: cpu is very high: 96.75%");

  const burning = cpuEnv(0.5);
  assert.equal(await evaluate(README_CHECK.critical_if, burning), true);
  assert.equal(await evaluate(README_CHECK.critical_output, burning), "Critical: cpu is too high: 99.5%");

  const idleInt = cpuEnv(100);
  assert.equal(await evaluate(README_CHECK.ok_output, idleInt), "OK: cpu is great: 0%");
});

Deno.test("substitution inserts Python str() of the value, unquoted", () => {
  const env: EvalEnv = {
    collectors: view({
      system: {
        publicip: "10.0.2.15",
        cpucount: 4,
        os: { name: "linux" },
        flags: [1, "a"],
        ok: true,
        none: null,
      },
    }),
  };
  assert.equal(substitute("{collector.system.publicip}", env), "10.0.2.15");
  assert.equal(substitute("'{collector.system.publicip}'", env), "'10.0.2.15'");
  assert.equal(substitute("{collector.system.cpucount} * 0.9", env), "4 * 0.9");
  assert.equal(substitute("{collector.system.ok} and {collector.system.none}", env), "True and None");
  assert.equal(substitute("{collector.system.flags}", env), "[1, 'a']");
  assert.equal(substitute("{ collector.system.os.name }", env), "linux");
  assert.equal(substitute("no braces at all", env), "no braces at all");
});

Deno.test("the virtualbox detector rule quotes the substituted address itself", async () => {
  const inside = { collectors: view({ system: { publicip: "10.0.2.15" } }) };
  const outside = { collectors: view({ system: { publicip: "192.168.1.4" } }) };
  const rule = "ip_in_range('{collector.system.publicip}', '10.0.2.0/24')";
  assert.equal(await evaluate(rule, inside), true);
  assert.equal(await evaluate(rule, outside), false);
});

Deno.test("collector keys holding dots and slashes are found (mount points, %-keys)", async () => {
  const env: EvalEnv = {
    collectors: view({
      diskusage: { "/": { pct_used: 42 }, "/var/lib.d": { pct_used: 96 } },
      kernelstats: { "ctxt/s": 12.5 },
    }),
  };
  assert.equal(await evaluate("{collector.diskusage./.pct_used} > 95", env), false);
  assert.equal(await evaluate("{collector.diskusage./var/lib.d.pct_used} > 95", env), true);
  assert.equal(await evaluate("{collector.kernelstats.ctxt/s}", env), 12.5);
});

Deno.test("configuration lookups try each | alternative in order", async () => {
  const env: EvalEnv = {
    lookup: lookupIn({ load: { warning: 1 } }, { load: { warning: 9, critical: 2 }, name: "web" }),
  };
  assert.equal(await evaluate("{configuration.load.warning}", env), 1);
  assert.equal(await evaluate("{configuration.load.critical}", env), 2);
  assert.equal(await evaluate("{configuration.missing.key|load.critical}", env), 2);
  assert.equal(await evaluate("'{configuration.name}' == 'web'", env), true);
});

Deno.test("missing values and unknown scopes are typed errors naming the part", async () => {
  const env: EvalEnv = {
    collectors: view({ cpustats: { cpuall: { "%idle": 50 } } }),
    lookup: () => undefined,
  };
  const cases: Array<[string, string, RegExp, number]> = [
    ["{collector.redis.available} == False", "missing", /collector 'redis' has no results/, 1],
    ["1 + {collector.cpustats.cpuall.%steal}", "missing", /no value at 'cpuall.%steal'/, 5],
    ["{configuration.thresholds.x}", "missing", /configuration has no value for 'thresholds.x'/, 1],
    ["{something.else}", "name", /cannot substitute \{something.else\}/, 1],
    ["{}", "name", /cannot substitute/, 1],
    ["{collector.}", "syntax", /needs a collector name/, 1],
  ];
  for (const [expr, kind, message, column] of cases) {
    await assert.rejects(evaluate(expr, env), (err: unknown) => {
      assert.ok(err instanceof EvalError, String(err));
      assert.equal(err.kind, kind, expr);
      assert.match(err.message, message);
      assert.equal(err.column, column, expr);
      return true;
    });
  }
  await assert.rejects(evaluate("{collector.cpustats.cpuall.%idle}"), (err: unknown) => {
    assert.ok(err instanceof EvalError && err.kind === "missing");
    return true;
  });
  await assert.rejects(
    evaluate("{configuration.a}"),
    (err: unknown) => err instanceof EvalError && err.kind === "missing",
  );
});

Deno.test("evaluateBool applies Python truthiness to the result", async () => {
  assert.equal(await evaluateBool("''"), false);
  assert.equal(await evaluateBool("'x'"), true);
  assert.equal(await evaluateBool("0.0"), false);
  assert.equal(await evaluateBool("()"), false);
  assert.equal(await evaluateBool("(0,)"), true);
  assert.equal(await evaluateBool("None"), false);
});

Deno.test("a collector view or lookup that throws still ends as an EvalError", async () => {
  const env: EvalEnv = {
    collectors: {
      get: () => {
        throw new Error("view broke");
      },
      names: () => [],
    },
    lookup: () => {
      throw new TypeError("lookup broke");
    },
  };
  for (
    const [expr, message] of [["{collector.a.b}", /view broke/], [
      "{configuration.x}",
      /lookup broke/,
    ]] as const
  ) {
    await assert.rejects(evaluate(expr, env), (err: unknown) => {
      assert.ok(err instanceof EvalError && err.kind === "runtime", String(err));
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("error columns point into the expression as written, not the substituted text", async () => {
  const env: EvalEnv = {
    collectors: view({ c: { v: 3, long: "x".repeat(40) } }),
    lookup: (p) => (p === "word" ? "abc" : undefined),
  };
  const cases: Array<[string, number, RegExp]> = [
    ["{collector.c.v} + 'a'", 17, /unsupported operand/],
    ["{collector.c.v} +", 18, /unexpected end/],
    ["'{collector.c.long}' + 'y' and {collector.c.v} / 0", 48, /division by zero/],
    ["1 + {configuration.word}", 5, /name 'abc' is not defined/],
  ];
  for (const [expr, column, message] of cases) {
    await assert.rejects(evaluate(expr, env), (err: unknown) => {
      assert.ok(err instanceof EvalError, String(err));
      assert.match(err.message, message);
      assert.equal(err.column, column, `${expr}: ${err.message}`);
      assert.equal(err.message, `${err.reason} (column ${column})`);
      return true;
    });
  }
});
