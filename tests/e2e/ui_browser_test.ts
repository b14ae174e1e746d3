/**
 * The web UI in a real browser (Debian's chromium driven by playwright-core) against 3 real agents
 * on loopback: the Nodes page lists them, a killed agent turns dead without a reload, `t:<tag>`
 * filters, a KV edit made in the page is visible through the API, checks come problems first with
 * their history, and the Metrics page draws a series. Screenshots go to
 * test-artifacts/ui/ (gitignored).
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { AgentClient } from "../../lib/client/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, REPO, startAgent, until } from "../helpers.ts";
import { checkMetricsPage } from "../ui/metrics_page.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = `${REPO}/test-artifacts/ui`;
const TOKEN = "ui-test-token";

function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

async function aliveCount(a: AgentProc): Promise<number> {
  const c = new AgentClient({ socket: a.socket });
  try {
    const m = await c.json<Record<string, MemberRecord>>("GET", "/agent/members");
    return Object.values(m).filter((r) => r.state === "alive").length;
  } finally {
    c.close();
  }
}

Deno.test({
  name:
    "UI: 3 agents listed, a killed one turns dead live, t:<tag> filters, a KV edit reaches the API, metrics drawn",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    Deno.mkdirSync(ARTIFACTS, { recursive: true });
    const hosts = ["127.0.0.71", "127.0.0.72", "127.0.0.73"];
    const ports = hosts.map((h) => freePort(h));
    const gossip = { probe_interval: "300ms", probe_timeout: "150ms", gossip_interval: "100ms" };
    const tags = [["kv", "web"], ["kv", "db"], ["kv", "db"]];
    const agents: AgentProc[] = [];
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
    });
    try {
      agents.push(
        ...await Promise.all(hosts.map((addr, i) =>
          startAgent({
            name: `u${i}`,
            addr,
            port: ports[i],
            params: {
              gossip,
              tags: tags[i],
              http: { token: TOKEN },
              bootstrap: i === 0,
              seeds: i === 0 ? [] : [`${hosts[0]}:${ports[0]}`],
            },
          })
        )),
      );
      await until(
        "the cluster to form (3 alive)",
        async () => await aliveCount(agents[0]) === 3,
        30_000,
        200,
      );

      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://${hosts[0]}:${ports[0]}/ui/`);
      await page.locator(".card.node").nth(2).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator(".card.node").count(), 3);
      await page.locator("#conn.conn-live").waitFor({ timeout: 15_000 });
      assert.equal((await page.locator("#badge-nodes").textContent())?.trim(), "3");
      await page.screenshot({ path: `${ARTIFACTS}/nodes.png` });

      // t:<tag> filters; s: and names too
      await page.fill("#node-filter", "t:web");
      await page.waitForFunction(`document.querySelectorAll(".card.node").length === 1`);
      assert.equal(await page.locator(".card.node").getAttribute("data-name"), "u0");
      await page.fill("#node-filter", "t:db");
      await page.waitForFunction(`document.querySelectorAll(".card.node").length === 2`);
      await page.fill("#node-filter", "");
      await page.check("#node-expand");
      await page.waitForFunction(`document.querySelectorAll(".card.node").length === 3`);

      // kill one: the page shows it dead through the websocket, without reload
      await page.evaluate(() => (globalThis as unknown as { __marker: number }).__marker = 42);
      await agents[2].kill9();
      await page.locator('.card.node[data-name="u2"][data-state="dead"]').waitFor({ timeout: 45_000 });
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { __marker: number }).__marker),
        42,
        "the page was reloaded",
      );
      assert.match((await page.locator('.card.node[data-name="u2"]').getAttribute("class")) ?? "", /s-dead/);
      await page.screenshot({ path: `${ARTIFACTS}/nodes-dead.png` });

      // node detail
      await page.click('.card.node[data-name="u0"] a.title');
      await page.locator("h2", { hasText: "u0" }).waitFor();
      await page.locator("h3", { hasText: "Collectors" }).waitFor({ timeout: 15_000 });
      await page.screenshot({ path: `${ARTIFACTS}/node.png`, fullPage: true });

      // Checks: problems first; this agent's checks show their recorded transitions
      await page.click('a[data-page="checks"]');
      await page.locator("tr.check-row").first().waitFor({ timeout: 15_000 });
      const states = await page.locator("tr.check-row").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-state"))
      );
      const rank: Record<string, number> = { critical: 0, warning: 1, unknown: 2, pending: 3, ok: 4 };
      assert.deepEqual(states, [...states].sort((a, b) => rank[a!] - rank[b!]), "non-OK checks come first");
      await page.locator("button.history-btn").first().click();
      await page.locator(".history li, .history p").first().waitFor({ timeout: 15_000 });
      await page.screenshot({ path: `${ARTIFACTS}/checks.png` });

      // KV: a write without the token is refused and asks for it; with the token it lands
      await page.click('a[data-page="kv"]');
      await page.click("#kv-new");
      await page.fill("#kv-key", "ui/greeting");
      await page.fill("#kv-value", "hello from the browser");
      await page.fill("#kv-token", TOKEN);
      await page.dispatchEvent("#kv-token", "change");
      await page.click("#kv-save");
      await page.locator("#kv-msg", { hasText: "saved ui/greeting" }).waitFor({ timeout: 15_000 });
      const c = new AgentClient({ socket: agents[1].socket });
      try {
        const v = await c.text("GET", "/kv/ui/greeting?raw");
        assert.equal(v, "hello from the browser");
        // and a write through the API shows up in the open page (kv feed)
        await c.text("PUT", "/kv/ui/other", "x");
      } finally {
        c.close();
      }
      await page.locator('#kv-keys button[data-key="ui/other"]').waitFor({ timeout: 15_000 });
      await page.screenshot({ path: `${ARTIFACTS}/kv.png` });

      // the Metrics entry is shown exactly when the metrics API answers
      const find = await fetch(`http://${hosts[0]}:${ports[0]}/metrics/find?query=*`);
      await find.body?.cancel();
      assert.equal(await page.locator("#nav-metrics").isHidden(), !find.ok);
      if (find.ok) {
        // metrics exist: open branches down to a leaf and plot it
        await page.click('a[data-page="metrics"]');
        for (let depth = 0; depth < 8; depth++) {
          const folder = page.locator('#metric-tree button[aria-expanded="false"]').first();
          const leaf = page.locator("#metric-tree button[aria-pressed]").first();
          await page.locator("#metric-tree button").first().waitFor({ timeout: 15_000 });
          if (await leaf.count()) {
            await leaf.click();
            break;
          }
          await folder.click();
          await page.waitForTimeout(300);
        }
        // a line, or a dot for a series that has a single point so far
        await page.locator("#metric-chart svg :is(path, circle)").first().waitFor({ timeout: 15_000 });
        await page.screenshot({ path: `${ARTIFACTS}/metrics.png` });
      }

      // agent page and the API page
      await page.click('a[data-page="agent"]');
      await page.locator("h2", { hasText: "Agent u0" }).waitFor();
      await page.goto(`http://${hosts[0]}:${ports[0]}/ui/api`);
      await page.locator("td", { hasText: "/api/openapi.json" }).first().waitFor();
      await page.emulateMedia({ colorScheme: "dark" });
      await page.goto(`http://${hosts[0]}:${ports[0]}/ui/#/services`);
      await page.locator("h2", { hasText: "Services" }).waitFor();
      await page.screenshot({ path: `${ARTIFACTS}/services-dark.png` });
      // narrow screen: one column, the menu above the content
      await page.setViewportSize({ width: 390, height: 800 });
      await page.goto(`http://${hosts[0]}:${ports[0]}/ui/#/nodes`);
      await page.locator(".card.node").first().waitFor();
      const nav = await page.locator("nav.side").boundingBox();
      const main = await page.locator("main").boundingBox();
      assert.ok(nav && main && main.y >= nav.y + nav.height - 1, "menu above the content on a phone");
      await page.screenshot({ path: `${ARTIFACTS}/nodes-phone.png` });
      assert.deepEqual(errors, []);

      // the same files opened from disk, with config.js naming an agent: CORS and the feed work
      const flat = Deno.makeTempDirSync({ prefix: "kunai-ui-flat-" });
      try {
        for (const e of Deno.readDirSync(`${REPO}/ui`)) {
          if (e.isFile) Deno.copyFileSync(`${REPO}/ui/${e.name}`, `${flat}/${e.name}`);
        }
        Deno.mkdirSync(`${flat}/js`);
        for (const e of Deno.readDirSync(`${REPO}/ui/js`)) {
          Deno.copyFileSync(`${REPO}/ui/js/${e.name}`, `${flat}/js/${e.name}`);
        }
        Deno.writeTextFileSync(`${flat}/config.js`, `servers = ["${hosts[1]}:${ports[1]}"];\n`);
        const filePage = await browser.newPage();
        await filePage.goto(`file://${flat}/index.html`);
        await filePage.locator(".card.node").nth(2).waitFor({ timeout: 15_000 });
        await filePage.locator("#conn.conn-live").waitFor({ timeout: 15_000 });
        assert.equal(
          (await filePage.locator("#server").textContent())?.trim(),
          `http://${hosts[1]}:${ports[1]}`,
        );
        await filePage.close();
      } finally {
        Deno.removeSync(flat, { recursive: true });
      }

      // the Metrics page, with its API answered by the browser (same agent, same browser)
      await checkMetricsPage(
        browser,
        `http://${hosts[0]}:${ports[0]}/ui/#/metrics`,
        `${ARTIFACTS}/metrics-fake.png`,
      );
    } finally {
      await browser.close();
      await Promise.all(agents.map((a) => a.stop()));
    }
  },
});
