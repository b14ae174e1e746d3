/** The UI files are served from ui/ with their types, and nothing outside ui/ can be reached. */
import assert from "node:assert/strict";
import { safeUiPath, uiRoutes } from "../../lib/ui/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("UI paths: plain relative names only", () => {
  assert.equal(safeUiPath("js/app.js"), "js/app.js");
  for (const bad of ["../deno.json", "js/../../x", "/etc/passwd", "a//b", "a\\b", "%2e%2e/x", ""]) {
    assert.equal(safeUiPath(bad), null, bad);
  }
});

Deno.test("the UI is served at /ui/ with content types; traversal and missing files are JSON 404", async () => {
  const ctx = makeTestCtx();
  try {
    const app = buildApp([uiRoutes()], {
      token: "",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: new Counters(),
    });
    const index = await app.request("/ui/");
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await index.text(), /<script src="config.js"><\/script>/);
    // pages: only /ui/'s own scripts and styles, never framed; every file: no type sniffing
    const csp = index.headers.get("content-security-policy") ?? "";
    for (
      const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]
    ) {
      assert.ok(csp.split("; ").includes(d), `${d} in ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(index.headers.get("x-frame-options"), "DENY");
    assert.equal(index.headers.get("x-content-type-options"), "nosniff");
    const js = await app.request("/ui/js/app.js");
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    assert.equal(js.headers.get("x-content-type-options"), "nosniff");
    await js.body?.cancel();
    const api = await app.request("/ui/api");
    assert.equal(api.headers.get("content-security-policy"), csp);
    assert.match(await api.text(), /openapi\.json/);
    assert.equal((await app.request("/ui")).status, 302);
    for (const p of ["/ui/..%2Fdeno.json", "/ui/nope.js", "/ui/js"]) {
      const r = await app.request(p);
      assert.equal(r.status, 404, p);
      assert.equal((await r.json()).error, "no such UI file", p);
    }
  } finally {
    ctx.cleanup();
  }
});

Deno.test("the UI uses no CDN: every script and stylesheet is a local file", () => {
  const dir = new URL("../../ui/", import.meta.url);
  for (const f of ["index.html", "api.html"]) {
    const html = Deno.readTextFileSync(new URL(f, dir));
    for (const m of html.matchAll(/(?:src|href)="([^"#]+)"/g)) {
      assert.doesNotMatch(m[1], /^(https?:)?\/\//, `${f} loads ${m[1]}`);
      if (/\.(js|css)$/.test(m[1])) Deno.statSync(new URL(m[1], dir));
    }
  }
});

Deno.test("the pages hold no inline script or style, which their Content-Security-Policy would refuse", () => {
  const dir = new URL("../../ui/", import.meta.url);
  for (const f of ["index.html", "api.html"]) {
    const html = Deno.readTextFileSync(new URL(f, dir));
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${f}: an inline <script>`);
    assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=|javascript:/i, `${f}: inline style or handler`);
  }
  const api = Deno.readTextFileSync(new URL("api.html", dir));
  assert.match(api, /<script src="js\/api_page\.js"><\/script>/);
  // the scripts never write an inline style or handler either
  for (const e of Deno.readDirSync(new URL("js/", dir))) {
    const src = Deno.readTextFileSync(new URL(`js/${e.name}`, dir));
    assert.doesNotMatch(src, /setAttribute\(\s*["'](style|on[a-z]+)["']|\bstyle:\s|innerHTML|eval\(/, e.name);
  }
});

Deno.test("index.html loads every page script, and every menu entry names a page a script defines", () => {
  const dir = new URL("../../ui/", import.meta.url);
  const html = Deno.readTextFileSync(new URL("index.html", dir));
  const scripts = [...html.matchAll(/<script src="js\/([^"]+)"><\/script>/g)].map((m) => m[1]);
  // api_page.js is the API page's (api.html)
  const files = [...Deno.readDirSync(new URL("js/", dir))].map((e) => e.name).filter((n) =>
    n.endsWith(".js") && n !== "api_page.js"
  );
  assert.deepEqual(
    [...scripts].sort(),
    [...files].sort(),
    "a script in ui/js/ is not loaded, or loaded twice",
  );
  assert.equal(scripts[0], "dom.js", "the helpers come first");
  assert.equal(scripts.at(-1), "app.js", "the app boots last, once every page is defined");
  const defined = new Set<string>();
  for (const f of files) {
    const src = Deno.readTextFileSync(new URL(`js/${f}`, dir));
    for (const m of src.matchAll(/K\.pages\.(\w+) = \{/g)) defined.add(m[1]);
  }
  const menu = [...html.matchAll(/href="#\/(\w+)" data-page="(\w+)"/g)];
  assert.ok(menu.length >= 9, `menu entries: ${menu.length}`);
  for (const [, href, page] of menu) {
    assert.equal(href, page, `the menu entry #/${href} is marked as ${page}`);
    assert.ok(defined.has(page), `the menu links to #/${page}, which no script defines`);
  }
  for (const p of ["events", "history"]) assert.ok(menu.some((m) => m[2] === p), `no menu entry for ${p}`);
  // a node's page links to its membership history
  const cluster = Deno.readTextFileSync(new URL("js/pages_cluster.js", dir));
  assert.match(cluster, /"#\/history\/" \+ encodeURIComponent\(name\)/);
});
