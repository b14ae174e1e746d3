import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DEFAULT_RENDER_BUDGET,
  loadTemplateEngine,
  SHIPPED_TEMPLATES,
  templateEngineLoaded,
  TemplateError,
  Templates,
} from "../../lib/templates/mod.ts";
import { tempDir } from "../helpers.ts";

Deno.test("nothing renders before the engine is loaded; loading it once makes rendering synchronous", async () => {
  const t = new Templates({ dirs: [SHIPPED_TEMPLATES] });
  if (!templateEngineLoaded()) {
    assert.throws(() => t.renderString("{{ 1 + 1 }}", {}), /template engine is not loaded/);
  }
  await Promise.all([loadTemplateEngine(), loadTemplateEngine()]);
  assert.ok(templateEngineLoaded());
  assert.equal(t.renderString("{{ 1 + 1 }}", {}), "2");
});

await loadTemplateEngine();

function withDirs(fn: (cfg: string, shipped: string) => void): void {
  const { dir, cleanup } = tempDir("kunai-tpl-");
  try {
    const cfg = join(dir, "cfg"), shipped = join(dir, "shipped");
    Deno.mkdirSync(cfg);
    Deno.mkdirSync(shipped);
    fn(cfg, shipped);
  } finally {
    cleanup();
  }
}

Deno.test("the configuration directory's template wins over the shipped one, which is the fallback", () => {
  withDirs((cfg, shipped) => {
    Deno.writeTextFileSync(join(shipped, "a.tpl"), "shipped {{ x }}");
    Deno.writeTextFileSync(join(shipped, "b.tpl"), "only shipped {{ x }}");
    Deno.writeTextFileSync(join(cfg, "a.tpl"), "mine {{ x }}");
    const t = new Templates({ dirs: [cfg, shipped] });
    assert.equal(t.render("a.tpl", { x: 1 }), "mine 1");
    assert.equal(t.render("b.tpl", { x: 2 }), "only shipped 2");
  });
});

Deno.test("autoescape is off: config files and mail keep < > & as written", () => {
  withDirs((cfg) => {
    const t = new Templates({ dirs: [cfg] });
    assert.equal(t.renderString("{{ x }}", { x: "<a & b>" }), "<a & b>");
  });
});

Deno.test("Jinja2 filters and idioms nunjucks lacks render like Jinja2", () => {
  withDirs((cfg) => {
    const t = new Templates({ dirs: [cfg] });
    assert.equal(
      t.renderString("{{ '%s:%d %.2f' | format(h, p, f) }}", { h: "web", p: 80, f: 1.5 }),
      "web:80 1.50",
    );
    assert.equal(t.renderString("{{ '%05d' | format(42) }}", {}), "00042");
    // as Jinja2 writes it: sorted keys, ", " and ": ", HTML-safe
    assert.equal(
      t.renderString("{{ d | tojson }}", { d: { b: "<&>", a: [1, "x"] } }),
      '{"a": [1, "x"], "b": "\\u003c\\u0026\\u003e"}',
    );
    assert.equal(
      t.renderString("{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}", { d: { a: 1, b: 2 } }),
      "a=1;b=2;",
    );
    assert.equal(
      t.renderString(
        "{% for k, v in d.items() %}{{ k }}={{ v }}{% if not loop.last %},{% endif %}{% endfor %}",
        {
          d: { a: 1, b: 2 },
        },
      ),
      "a=1,b=2",
    );
    assert.equal(
      t.renderString("{{ l | map(attribute='n') | join(',') }}", { l: [{ n: "a" }, { n: "b" }] }),
      "a,b",
    );
    assert.equal(t.renderString("{{ l | map('upper') | join(',') }}", { l: ["a", "b"] }), "A,B");
    assert.equal(t.renderString("{{ l | unique | join(',') }}", { l: [1, 2, 1, 3] }), "1,2,3");
    assert.equal(t.renderString("{{ l | min }} {{ l | max }}", { l: [3, 1, 2] }), "1 3");
    assert.equal(t.renderString("{{ x | d('none') }}", {}), "none");
    assert.equal(t.renderString("{{ l[1:] | join(',') }}", { l: [1, 2, 3] }), "2,3");
    assert.equal(t.renderString("{{ x is defined }}", {}), "False"); // Python prints its booleans so
  });
});

Deno.test("templates written for Python 2's Jinja2: iteritems, iterkeys, itervalues and has_key", () => {
  const t = new Templates({ dirs: [SHIPPED_TEMPLATES], trimBlocks: true, keepTrailingNewline: true });
  const nodes = {
    "uuid-2": { name: "web-2", addr: "10.0.0.2", tags: ["web"] },
    "uuid-1": { name: "web-1", addr: "10.0.0.1", tags: [] },
  };
  const src = "{% for uuid, n in nodes.iteritems() %}\n{{ uuid }} {{ n.name }} {{ n.has_key('tags') }}\n" +
    "{% endfor %}\n{{ nodes.iterkeys()|sort|join(',') }} " +
    "{{ nodes.itervalues()|map(attribute='addr')|sort|join(',') }} " +
    "{{ nodes.has_key('uuid-1') }} {{ nodes.has_key('nope') }} {{ nodes.has_key(1) }} {{ {}.iteritems()|list }}\n";
  assert.equal(
    t.renderString(src, { nodes }, "py2.tpl"),
    "uuid-2 web-2 True\nuuid-1 web-1 True\nuuid-1,uuid-2 10.0.0.1,10.0.0.2 True False False []\n",
  );
  // a loop that changes the dict walks a copy, as Python 2's items() did
  assert.equal(
    t.renderString("{% for k, v in d.iteritems() %}{{ d.pop(k) }}{% endfor %}{{ d }}", { d: { a: 1, b: 2 } }),
    "12{}",
  );
  assert.throws(
    () => t.renderString("{{ d.has_key([]) }}", { d: {} }, "x.tpl"),
    (e) => e instanceof TemplateError && /unhashable type: 'list'/.test(e.message),
  );
  assert.throws(
    () => t.renderString("{{ d.iteritems(1) }}", { d: {} }, "x.tpl"),
    (e) => e instanceof TemplateError && /TypeError: dict\.iteritems\(\) takes no arguments/.test(e.message),
  );
});

Deno.test("the pprint and xmlattr filters render as Jinja2's", () => {
  const t = new Templates({ dirs: [SHIPPED_TEMPLATES] });
  const d = { class: "web", missing: null, title: `"a" & <b>` };
  assert.equal(
    t.renderString("<p{{ d|xmlattr }}>|<p{{ d|xmlattr(false) }}>|[{{ {}|xmlattr }}]", { d }),
    '<p class="web" title="&#34;a&#34; &amp; &lt;b&gt;">|<pclass="web" title="&#34;a&#34; &amp; &lt;b&gt;">|[]',
  );
  assert.throws(
    () => t.renderString("{{ {'on load': 1}|xmlattr }}", {}, "x.tpl"),
    (e) =>
      e instanceof TemplateError &&
      /ValueError: Invalid character in attribute name: 'on load'/.test(e.message),
  );
  assert.equal(
    t.renderString("{{ d|pprint }}", { d: { b: [1, null], a: "x" } }),
    "{'a': 'x', 'b': [1, None]}",
  );
  const long = Object.fromEntries(["alpha", "beta", "gamma"].map((k) => [k, `${k} `.repeat(8).trim()]));
  assert.equal(
    t.renderString("{{ d|pprint }}", { d: long }),
    "{'alpha': 'alpha alpha alpha alpha alpha alpha alpha alpha',\n" +
      " 'beta': 'beta beta beta beta beta beta beta beta',\n" +
      " 'gamma': 'gamma gamma gamma gamma gamma gamma gamma gamma'}",
  );
});

Deno.test("trim_blocks/lstrip_blocks apply when asked (generators), not otherwise (mail)", () => {
  withDirs((cfg) => {
    const src = "a\n  {% if true %}\nb\n  {% endif %}\nc\n";
    const generator = new Templates({ dirs: [cfg], trimBlocks: true, keepTrailingNewline: true });
    assert.equal(generator.renderString(src, {}), "a\nb\nc\n");
    // mail: Jinja2's defaults, the template's last newline dropped (keep_trailing_newline=False)
    assert.equal(new Templates({ dirs: [cfg] }).renderString(src, {}), "a\n  \nb\n  \nc");
  });
});

Deno.test("a missing template, a syntax error and an escaping name are TemplateErrors naming the template", () => {
  withDirs((cfg) => {
    Deno.writeTextFileSync(join(cfg, "bad.tpl"), "{% for x in %}");
    Deno.writeTextFileSync(join(cfg, "..", "secret"), "no");
    const t = new Templates({ dirs: [cfg] });
    assert.throws(
      () => t.render("missing.tpl", {}),
      (e) => e instanceof TemplateError && /missing\.tpl/.test(e.message),
    );
    assert.throws(
      () => t.render("bad.tpl", {}),
      (e) => e instanceof TemplateError && /bad\.tpl/.test(e.message),
    );
    assert.throws(() => t.render("../secret", {}), TemplateError);
    assert.throws(() => t.render("/etc/passwd", {}), TemplateError);
  });
});

Deno.test("a render error names the line, and the included template it happened in", () => {
  withDirs((cfg) => {
    Deno.writeTextFileSync(join(cfg, "row.tpl"), "ok\n{{ n.addr.split('.') }}\n");
    Deno.writeTextFileSync(
      join(cfg, "main.tpl"),
      "{% for n in nodes %}\n{% include 'row.tpl' %}\n{% endfor %}\n",
    );
    const t = new Templates({ dirs: [cfg] });
    assert.equal(t.render("main.tpl", { nodes: [{ addr: "1.2" }] }), "\nok\n['1', '2']\n");
    assert.throws(
      () => t.render("main.tpl", { nodes: [{ name: "x" }] }),
      (e) =>
        e instanceof TemplateError &&
        /^template main\.tpl \(.*main\.tpl\): in .*row\.tpl line 2, column \d+: UndefinedError: 'n\.addr' is undefined$/
          .test(e.message),
    );
    assert.throws(
      () => t.renderString("a\n\n  {{ 1 // 0 }}", {}, "inline.tpl"),
      (e) =>
        e instanceof TemplateError &&
        /^template inline\.tpl: line 3, column 3: ZeroDivisionError: integer division or modulo by zero$/
          .test(e.message),
    );
  });
});

Deno.test("a render error in a parent's block, a macro or after an import names the template it is in", () => {
  withDirs((cfg) => {
    Deno.writeTextFileSync(join(cfg, "base.tpl"), "head\n{% block body %}\nbody {{ q.w }}\n{% endblock %}\n");
    Deno.writeTextFileSync(join(cfg, "m.tpl"), "{% macro f(n) %}\n{{ n.x.y }}\n{% endmacro %}\n");
    const t = new Templates({ dirs: [cfg] });
    const cases: Array<[string, RegExp]> = [
      // a block of the parent template: the parent's (it was reported in the child, at the parent's line)
      [
        "{% extends 'base.tpl' %}\n{% block foot %}x{% endblock %}\n",
        /: in .*base\.tpl line 3, column \d+: .*'q'/,
      ],
      [
        "{% extends 'base.tpl' %}\n{% block body %}\n\n{{ e.r }}{% endblock %}\n",
        /\.tpl\): line 4, column \d+: .*'e'/,
      ],
      // a macro's body: where the macro is written; a call block's: where it is written
      ["{% import 'm.tpl' as m %}\n\n\n{{ m.f({}) }}\n", /: in .*m\.tpl line 2, column \d+: .*'n\.x'/],
      [
        "{% macro g() %}{{ caller() }}{% endmacro %}\n{% call g() %}\n\n{{ z.z }}{% endcall %}\n",
        /\.tpl\): line 4, column \d+: .*'z'/,
      ],
      // after an import or an include: this template (it was the other one, at the line it was at)
      ["{% import 'm.tpl' as m %}\n\n{{ a.b }}\n", /\.tpl\): line 3, column \d+: .*'a'/],
      ["{% include 'm.tpl' %}\n\n\n{{ a.b }}\n", /\.tpl\): line 4, column \d+: .*'a'/],
      // a macro's line is the caller's again after it returns
      ["{% macro h() %}\nx\n{% endmacro %}\n{{ h() ~ a.b }}\n", /\.tpl\): line 4, column \d+: .*'a'/],
    ];
    for (const [i, [text, expected]] of cases.entries()) {
      Deno.writeTextFileSync(join(cfg, `t${i}.tpl`), text);
      assert.throws(
        () => t.render(`t${i}.tpl`, {}),
        (e) =>
          e instanceof TemplateError && e.message.startsWith(`template t${i}.tpl (`) &&
          expected.test(e.message),
        text,
      );
    }
  });
});

Deno.test("a function prints as Python names it (without an address), never as JavaScript's text", () => {
  const t = new Templates({ dirs: [SHIPPED_TEMPLATES] });
  const ctx = { l: [1], d: { a: 1 }, ok_nodes: (service: unknown) => [service], kv: (k: unknown) => k };
  assert.equal(
    t.renderString(
      "{{ 'a'.upper }}|{{ l.append }}|{{ d.items }}|{{ 'x'|attr('split') }}|{{ ok_nodes }}|{{ kv }}|" +
        "{{ cycler('a') }}|{{ joiner() }}|{{ [l.pop] }}|{{ '%s' % d.get }}",
      ctx,
    ),
    "<built-in method upper of str object>|<built-in method append of list object>|" +
      "<built-in method items of dict object>|<built-in method split of str object>|<function ok_nodes>|" +
      "<function kv>|<jinja2.utils.Cycler object>|<jinja2.utils.Joiner object>|" +
      "[<built-in method pop of list object>]|<built-in method get of dict object>",
  );
});

Deno.test("Jinja2 syntax kunai lacks is an error naming the template and line, never other text", () => {
  const t = new Templates({ dirs: [SHIPPED_TEMPLATES] });
  for (
    const src of [
      "a\n{% autoescape true %}x{% endautoescape %}",
      "a\n{{ lipsum() }}",
    ]
  ) {
    assert.throws(
      () => t.renderString(src, { d: {} }, "x.tpl"),
      (e) => e instanceof TemplateError && /^template x\.tpl: line 2, column \d+: /.test(e.message),
      src,
    );
  }
});

Deno.test("shipped mail templates render the reference's subject and body", () => {
  const t = new Templates({ dirs: [SHIPPED_TEMPLATES] });
  const vars = {
    check: { name: "cpu", state: "critical", old_state: "ok", output: "load 12" },
    node: { name: "n1", addr: "10.0.0.1" },
    handler: { name: "default" },
    _time: "2026-01-02 03:04:05",
  };
  assert.equal(t.render("email.subject.tpl", vars).trim(), "Check cpu switched to critical state on n1");
  const body = t.render("email.text.tpl", vars);
  assert.match(body, /^The check switch state at 2026-01-02 03:04:05 with the output:\nload 12\n/);
});

Deno.test("a dict key that is not a string is a TypeError naming it, never a different key", () => {
  const t = new Templates({ dirs: [SHIPPED_TEMPLATES] });
  for (
    const src of [
      "{{ d.update([(1, 'a')]) }}",
      "{{ d.setdefault(none, 1) }}",
      "{{ d.fromkeys([1, 2]) }}",
      "{{ {1: 'a'} }}",
      "{% set k = none %}{{ {'a': 1, k: 2} }}",
    ]
  ) {
    assert.throws(
      () => t.renderString(src, { d: {} }, "x.tpl"),
      (e) =>
        e instanceof TemplateError &&
        /TypeError: kunai's dicts take string keys only, not (int|NoneType)/.test(e.message),
      src,
    );
  }
  // and a lookup by one finds nothing, as in Python (the dict's keys are strings)
  assert.equal(
    t.renderString("{{ d.get(1) }} {{ d.pop(1, 'x') }} {{ 1 in d }}", { d: { "1": "one" } }),
    "None x False",
  );
});

Deno.test("a render has a loop budget: a runaway template stops with an error naming its line, the next renders", () => {
  const nested = "{% for a in range(2000) %}\n{% for b in range(2000) %}{% endfor %}{% endfor %}";
  // by default whichever comes first: a million iterations, or 2 s (on a busy box, 840 000 took 2 s)
  assert.throws(
    () => new Templates({ dirs: [] }).renderString(nested, {}, "runaway"),
    (err: Error) =>
      err instanceof TemplateError && /runaway/.test(err.message) && /line 2/.test(err.message) &&
      /more than 1000000 iterations|longer than 2000 ms/.test(err.message),
  );
  const counted = new Templates({ dirs: [], budget: { ...DEFAULT_RENDER_BUDGET, maxMs: 600_000 } });
  assert.throws(() => counted.renderString(nested, {}, "runaway"), /line 2.*more than 1000000 iterations/s);
  const small = new Templates({ dirs: [], budget: { maxLoopSteps: 1000, maxMs: 60_000 } });
  const loop = (n: number) => `{% for i in range(${n}) %}{% endfor %}done`;
  // each render counts from zero
  assert.equal(small.renderString(loop(600), {}), "done");
  assert.equal(small.renderString(loop(600), {}), "done");
  assert.throws(() => small.renderString(loop(1001), {}), /more than 1000 iterations/);
  // and a render that takes too long stops at its time budget, whatever its count
  const slow = new Templates({ dirs: [], budget: { maxLoopSteps: 10_000_000, maxMs: 20 } });
  assert.throws(
    () => slow.renderString("{% for i in range(1000000) %}{{ i|string|upper }}{% endfor %}", {}),
    /longer than 20 ms/,
  );
});
