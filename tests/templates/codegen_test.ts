/**
 * Template text is data in the JavaScript nunjucks compiles a template to, never code: each payload
 * below tries to end its string (or name) in the compiled code and set a global. It must render as
 * the text it is, or be a TemplateError; the global must never be set.
 */
import assert from "node:assert/strict";
import { loadTemplateEngine, TemplateError, Templates } from "../../lib/templates/mod.ts";

await loadTemplateEngine();
const t = new Templates({ dirs: [] });

const g = globalThis as { __kunaiInjected?: unknown };
const SET = "globalThis.__kunaiInjected = 1";

/** Strings that would end a JavaScript string literal (or comment, or script) they are pasted in. */
const PAYLOADS = [
  `'); ${SET}; //`,
  `"); ${SET}; //`,
  `\\"))); ${SET}; //`,
  `\\`,
  `\\\\"`,
  `a\nb`,
  `\r\n${SET}\n//`,
  `\u2028${SET}\u2029`,
  `*/ ${SET} /*`,
  `</script><script>${SET}</script>`,
  "${" + SET + "}",
  "`+(" + SET + ")+`",
  "\0\x1b\x7f",
  "\ud800 lone surrogate",
];

/** The payload as a Jinja2 string literal: raw (only `\` and `'` escaped), or with every escape spelled. */
function literal(s: string, spelled: boolean): string {
  const escaped = s.replace(/[\\']/g, (c) => "\\" + c);
  if (!spelled) return `'${escaped}'`;
  const spell = (c: string) => {
    const n = c.charCodeAt(0);
    const special = n < 0x20 || n === 0x7f || n === 0x2028 || n === 0x2029 || (n >= 0xd800 && n <= 0xdfff);
    return special ? `\\u${n.toString(16).padStart(4, "0")}` : c;
  };
  return `'${[...escaped].map(spell).join("")}'`;
}

/** Renders `src`; fails the test if rendering (or failing to) ran the payload. */
function render(src: string, vars: Record<string, unknown> = {}): string {
  try {
    return t.renderString(src, vars, "payload");
  } finally {
    assert.equal(g.__kunaiInjected, undefined, `${src} ran code`);
  }
}

Deno.test("a string literal renders as its text in every place a template can put one, and runs nothing", () => {
  for (const payload of PAYLOADS) {
    for (const spelled of [false, true]) {
      const L = literal(payload, spelled);
      // a line break written in the template is read as "\n", as Jinja2 reads it
      const p = spelled ? payload : payload.replace(/\r\n?/g, "\n");
      const why = `${JSON.stringify(p)} as ${L}`;
      assert.equal(render(`{{ ${L} }}`), p, why);
      // a method call: the callee's text went into the code for "Unable to call"
      assert.equal(render(`{{ ${L}.upper() }}`), p.toUpperCase(), why);
      assert.equal(render(`{{ ${L}.startswith(${L}) }}`), "True", why);
      assert.equal(render(`{{ {${L}: ${L}}[${L}] }}`), p, why);
      assert.equal(render(`{% set v = ${L} %}{{ v ~ v }}`), p + p, why);
      assert.equal(render(`{% macro m(a=${L}) %}{{ a }}{% endmacro %}{{ m() }}{{ m(a=${L}) }}`), p + p, why);
      assert.equal(render(`{{ x|default(${L}) }}{{ [${L}]|join(${L}) }}`), p + p, why);
      assert.equal(render(`{% for k, v in {${L}: 1}.items() %}{{ k }}{% endfor %}`), p, why);
      assert.equal(render(`{{ d[${L}] }}`, { d: { [p]: "found" } }), "found", why);
      assert.equal(render(`{% include ${L} ignore missing %}.`), ".", why);
      // calling it, or using it as a test's name, is a clean error
      assert.throws(
        () => render(`{{ ${L}() }}`),
        (e) => e instanceof TemplateError && /Unable to call/.test(e.message),
      );
      assert.throws(
        () => render(`{{ x is ${L} }}`),
        (e) => e instanceof TemplateError && /expected a test name after 'is'/.test(e.message),
      );
    }
    const p = payload.replace(/\r\n?/g, "\n");
    if (!/[{}#%]/.test(p)) assert.equal(render(`${p}{% raw %}${p}{% endraw %}`), p + p);
  }
});

Deno.test("a name is an identifier: quotes, backslashes or backticks in one are a syntax error, never code", () => {
  const names = [
    'a"&&Function`globalThis\\x2e__kunaiInjected\\x3d1```&&"',
    "a'b",
    "a\\b",
    "a`b`",
    "a;b",
    "a$b",
    "$a",
    "a@b",
    "a?b",
    "1a",
  ];
  const places = [
    "{{ N }}",
    "{{ x|N }}",
    "{{ x is N }}",
    "{{ x.N }}",
    "{{ f(N=1) }}",
    "{% set N = 1 %}",
    "{% for N in l %}{% endfor %}",
    "{% macro m(N) %}{% endmacro %}",
    "{% macro N() %}{% endmacro %}",
    "{% from 'x' import N %}",
    "{% block N %}{% endblock %}",
  ];
  for (const n of names) {
    for (const place of places) {
      const src = place.replace("N", n);
      assert.throws(
        () => render(src, { l: [1], x: 1, f: () => 1 }),
        (e) => e instanceof TemplateError && /unexpected char/.test(e.message),
        src,
      );
    }
  }
  // names of any script are names, as in Jinja2
  assert.equal(render("{% set été = 1 %}{{ été }} {{ _x }}", { _x: 2 }), "1 2");
});

Deno.test("a template reaches data only: no JavaScript property of a value, the context or a global", () => {
  const vars = { l: [{ a: 1 }], d: {}, s: "ab", f: () => 1 };
  const code = "'globalThis.__kunaiInjected = 1'";
  for (
    const path of [
      "constructor",
      "''.constructor",
      "s.constructor",
      "range.constructor",
      "f.constructor",
      "l.constructor",
      "l.map.constructor",
      "d.constructor",
      "d.__proto__.constructor",
      "d.__defineGetter__.constructor",
      "d.iteritems.constructor",
      "d.iteritems().constructor",
      "d.has_key.constructor",
      "d.itervalues().map.constructor",
      "(1).constructor",
      "namespace().constructor",
      "cycler(1).next.constructor",
      "joiner().constructor",
      "(l|groupby('a'))[0].constructor",
      "(l|map(attribute='constructor')|first)",
      "(d|attr('constructor'))",
    ]
  ) {
    // undefined: prints nothing, or (an attribute of it) raises UndefinedError, as in Jinja2
    const src = `{% set F = ${path} %}{{ F }}`;
    try {
      assert.equal(render(src, vars), "", src);
    } catch (e) {
      assert.ok(e instanceof TemplateError && /UndefinedError/.test(e.message), `${src}: ${e}`);
    }
    assert.throws(
      () => render(`{{ ${path}(${code})() }}`, vars),
      (e) => e instanceof TemplateError && /UndefinedError|Unable to call/.test(e.message),
      path,
    );
  }
  // nor a filter or a test that is not one
  for (
    const src of [
      "{{ 'x'|constructor }}",
      "{{ d|__defineGetter__('x', f) }}",
      "{{ l|map('constructor')|list }}",
      "{{ 1 is constructor }}",
      "{{ l|select('toString')|list }}",
    ]
  ) {
    assert.throws(
      () => render(src, vars),
      (e) => e instanceof TemplateError && /no (filter|test) named '\w+'/.test(e.message),
      src,
    );
  }
  // what kunai's own objects do have is still there
  assert.equal(
    render(
      "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }} {% set ns = namespace(x=1) %}{{ ns.x }}",
    ),
    "ab 1",
  );
});
