/**
 * Drives the Metrics page of the UI at `url` with the metrics API answered by the browser's request
 * interception (Graphite finder and /render shapes of the reference), so the page is tested whether
 * or not the agent under test has the metrics subsystem: the entry appears, the tree expands, a series
 * is drawn (a null point splits the line), and the range picker asks /render again with its `from`.
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";

const node = (id: string, leaf: boolean) => ({
  leaf: leaf ? 1 : 0,
  context: {},
  text: id.split(".").pop(),
  id,
  expandable: leaf ? 0 : 1,
  allowChildren: leaf ? 0 : 1,
});

export async function checkMetricsPage(browser: Browser, url: string, screenshot: string): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  try {
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
    await page.goto(url);
    await page.locator("#nav-metrics:not([hidden])").waitFor({ timeout: 15_000 });
    await page.locator('#metric-tree button[data-id="m0"]').click();
    await page.locator('#metric-tree button[data-id="m0.load1"]').click();
    await page.locator("#metric-chart svg path").first().waitFor({ timeout: 15_000 });
    const d = await page.locator("#metric-chart svg path").first().getAttribute("d");
    assert.ok(d && (d.match(/M/g) ?? []).length >= 2, `a gap (null points) splits the line: ${d}`);
    assert.equal(
      await page.locator('#metric-tree button[data-id="m0.load1"]').getAttribute("aria-pressed"),
      "true",
    );
    await page.selectOption("#metric-range", "-24h");
    for (let i = 0; i < 50 && !renders.includes("-24h"); i++) await page.waitForTimeout(100);
    assert.deepEqual([...new Set(renders)], ["-1h", "-24h"]);
    await page.locator("#metric-chart svg path").first().waitFor();
    await page.screenshot({ path: screenshot });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
}
