/**
 * The Metrics page in a real browser: with the metrics API answering (here answered by the test
 * through the browser's request interception, in the Graphite finder and /render shapes the
 * reference defines), the entry appears, the tree expands and a series is drawn; the range picker
 * asks /render again with the new `from`.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { type AgentProc, freePort, REPO, startAgent } from "../helpers.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = `${REPO}/test-artifacts/ui`;

function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const node = (id: string, leaf: boolean) => ({
  leaf: leaf ? 1 : 0,
  context: {},
  text: id.split(".").pop(),
  id,
  expandable: leaf ? 0 : 1,
  allowChildren: leaf ? 0 : 1,
});

Deno.test({
  name: "UI: the Metrics page browses the tree and draws a series from /render",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    Deno.mkdirSync(ARTIFACTS, { recursive: true });
    const host = "127.0.0.75";
    const port = freePort(host);
    const a: AgentProc = await startAgent({ name: "m0", addr: host, port, params: { bootstrap: true } });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
      const renders: string[] = [];
      await page.route("**/metrics/find*", (route) => {
        const q = new URL(route.request().url()).searchParams.get("query");
        const body = q === "*" ? [node("m0", false)] : q === "m0.*" ? [node("m0.load1", true)] : [];
        return route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
      });
      await page.route("**/render?*", (route) => {
        const u = new URL(route.request().url());
        renders.push(u.searchParams.get("from") ?? "");
        const now = Math.floor(Date.now() / 1000 / 60) * 60;
        const datapoints = Array.from(
          { length: 30 },
          (_, i) => [i % 7 === 3 ? null : Math.sin(i / 4) + 1, now - (29 - i) * 60],
        );
        return route.fulfill({
          status: 200,
          contentType: "application/json",
          body: JSON.stringify([{ target: u.searchParams.get("target"), datapoints }]),
        });
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://${host}:${port}/ui/#/metrics`);
      await page.locator("#nav-metrics:not([hidden])").waitFor({ timeout: 15_000 });
      await page.locator('#metric-tree button[data-id="m0"]').click();
      await page.locator('#metric-tree button[data-id="m0.load1"]').click();
      await page.locator("#metric-chart svg path").first().waitFor({ timeout: 15_000 });
      const d = await page.locator("#metric-chart svg path").first().getAttribute("d");
      assert.ok(d && (d.match(/M/g) ?? []).length >= 2, `a gap (null points) splits the line: ${d}`);
      await page.selectOption("#metric-range", "-24h");
      await page.waitForFunction(`document.querySelector("#metric-chart svg path") !== null`);
      for (let i = 0; i < 50 && !renders.includes("-24h"); i++) await page.waitForTimeout(100);
      assert.deepEqual([...new Set(renders)], ["-1h", "-24h"]);
      await page.screenshot({ path: `${ARTIFACTS}/metrics.png` });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await a.stop();
    }
  },
});
