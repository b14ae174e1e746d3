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
    const js = await app.request("/ui/js/app.js");
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    await js.body?.cancel();
    const api = await app.request("/ui/api");
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
