/**
 * The web UI in a real browser (Debian's chromium driven by playwright-core) against 3 real agents
 * on loopback: the Nodes page lists them, a killed agent turns dead without a reload, `t:<tag>`
 * filters, a KV edit made in the page is visible through the API, checks come problems first with
 * their history, and the Metrics page draws a series. Against 2 more: cluster events sent with the CLI
 * and the API are listed newest first and arrive live, an HTML payload stays text, a second agent's join
 * shows in the open History page, and failing routes are said on their pages. Screenshots go to
 * test-artifacts/ui/ (gitignored).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { AgentClient } from "../../lib/client/mod.ts";
import { type AgentProc, aliveCount, freePort, REPO, startAgent, until } from "../helpers.ts";
import { checkMetricsPage } from "../ui/metrics_page.ts";
import { haveChromium, launchChromium } from "../browser.ts";

const ARTIFACTS = `${REPO}/test-artifacts/ui`;
const TOKEN = "ui-test-token";

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
    const browser = await launchChromium();
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
      // what the pages' Content-Security-Policy refuses, and any file the browser could not load
      page.on("console", (m) => {
        if (/Content Security Policy|Refused to|Failed to load resource/.test(m.text())) {
          errors.push(m.text());
        }
      });
      const served = await page.goto(`http://${hosts[0]}:${ports[0]}/ui/`);
      assert.match(
        served?.headers()["content-security-policy"] ?? "",
        /script-src 'self'.*frame-ancestors 'none'/,
      );
      await page.locator(".card.node").nth(2).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator(".card.node").count(), 3);
      // the policy holds in the browser: a script injected into the page does not run
      assert.equal(
        await page.evaluate(`(() => {
          const s = document.createElement("script");
          s.textContent = "document.body.dataset.injected = 'ran'";
          document.body.append(s);
          s.remove();
          return document.body.dataset.injected ?? "blocked";
        })()`),
        "blocked",
      );
      errors.length = 0; // the refusal just asked for is said on the console
      await page.locator("#conn.conn-live").waitFor({ timeout: 15_000 });
      assert.equal((await page.locator("#badge-nodes").textContent())?.trim(), "3");
      await page.screenshot({ path: `${ARTIFACTS}/nodes.png` });

      // t:<tag> filters; s: and names too
      await page.fill("#node-filter", "t:web");
      await until("1 node card(s)", async () => await page.locator(".card.node").count() === 1);
      assert.equal(await page.locator(".card.node").getAttribute("data-name"), "u0");
      await page.fill("#node-filter", "t:db");
      await until("2 node card(s)", async () => await page.locator(".card.node").count() === 2);
      await page.fill("#node-filter", "");
      await page.check("#node-expand");
      await until("3 node card(s)", async () => await page.locator(".card.node").count() === 3);

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

/** The text of every cell of `selector`'s rows: [[cell, ...], ...] in page order. */
function cells(page: Page, selector: string): Promise<string[][]> {
  return page.locator(selector).evaluateAll((rows) =>
    rows.map((r) =>
      Array.from(r.querySelectorAll("td"), (td: { textContent: string | null }) => td.textContent ?? "")
    )
  );
}

Deno.test({
  name:
    "UI: cluster events newest first and live, a payload stays text, a join shows in the history, errors are said",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    Deno.mkdirSync(ARTIFACTS, { recursive: true });
    const hosts = ["127.0.0.74", "127.0.0.75"];
    const ports = hosts.map((h) => freePort(h));
    const gossip = { probe_interval: "300ms", probe_timeout: "150ms", gossip_interval: "100ms" };
    const params = (i: number) => ({
      gossip,
      http: { token: TOKEN },
      bootstrap: i === 0,
      seeds: i === 0 ? [] : [`${hosts[0]}:${ports[0]}`],
    });
    const agents: AgentProc[] = [];
    const browser = await launchChromium();
    const XSS = "<img src=x onerror=alert(1)>";
    try {
      agents.push(await startAgent({ name: "e0", addr: hosts[0], port: ports[0], params: params(0) }));
      const sent = await agents[0].cli(["event", "send", "deploy-done", "v41"]);
      assert.equal(sent.code, 0, sent.stderr);

      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      const errors: string[] = [];
      const dialogs: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => {
        // (not "Failed to load resource": this test asks for 401s)
        if (/Content Security Policy|Refused to/.test(m.text())) {
          errors.push(m.text());
        }
      });
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => {});
      });
      const base = `http://${hosts[0]}:${ports[0]}/ui/`;
      await page.goto(`${base}#/events`);
      await page.locator('tr.event-row[data-name="deploy-done"]').waitFor({ timeout: 15_000 });
      assert.deepEqual((await cells(page, "tr.event-row")).map((r) => r.slice(1)), [[
        "deploy-done",
        "e0",
        "v41",
      ]]);
      assert.equal(await page.locator('a[data-page="events"]').getAttribute("aria-current"), "page");
      await page.locator("#conn.conn-live").waitFor({ timeout: 15_000 });

      // sent through the API while the page is open: shown without a reload, first, as text
      await page.evaluate(() => (globalThis as unknown as { __marker: number }).__marker = 7);
      const c = new AgentClient({ socket: agents[0].socket });
      try {
        await c.text("POST", "/agent/events/xss", XSS);
      } finally {
        c.close();
      }
      await page.locator('tr.event-row[data-name="xss"]').waitFor({ timeout: 15_000 });
      assert.equal(await page.evaluate(() => (globalThis as unknown as { __marker: number }).__marker), 7);
      const rows = await cells(page, "tr.event-row");
      assert.deepEqual(rows.map((r) => r[1]), ["xss", "deploy-done"], "newest first");
      assert.equal(rows[0][3], XSS, "the payload is shown as the text it is");
      assert.equal(await page.locator("img").count(), 0, "the payload made no element");
      assert.equal(
        await page.locator('tr.event-row[data-name="xss"] td.event-payload').evaluate((td) =>
          td.childElementCount
        ),
        0,
      );

      // a second agent joins: the history page, open before, shows the join without a reload
      await page.click('a[data-page="history"]');
      await page.locator("#history-list p, #member-history").first().waitFor({ timeout: 15_000 });
      agents.push(await startAgent({ name: "e1", addr: hosts[1], port: ports[1], params: params(1) }));
      await page.locator('tr.member-change[data-node="e1"][data-change="joined"]').waitFor({
        timeout: 30_000,
      });
      assert.equal(await page.evaluate(() => (globalThis as unknown as { __marker: number }).__marker), 7);
      const joined = (await cells(page, 'tr.member-change[data-change="joined"]'))[0];
      assert.deepEqual(joined.slice(1, 3), ["e1", "joined"]);
      assert.equal(joined[4], `${hosts[1]}:${ports[1]}`);
      await page.screenshot({ path: `${ARTIFACTS}/history.png` });
      // the node filter
      await page.fill("#history-filter", "nobody-here");
      await page.locator("#history-list p", { hasText: "No change matches." }).waitFor();
      await page.fill("#history-filter", "e1");
      await page.locator("tr.member-change").first().waitFor();

      // an event from the other agent arrives over gossip: who sent it is e1, and without a cluster key
      // it is marked as not authenticated (the agent's own events are)
      const sent1 = await agents[1].cli(["event", "send", "deploy-start", "from e1"]);
      assert.equal(sent1.code, 0, sent1.stderr);
      await page.click('a[data-page="events"]');
      await page.locator('tr.event-row[data-name="deploy-start"]').waitFor({ timeout: 15_000 });
      assert.deepEqual(
        (await cells(page, 'tr.event-row[data-name="deploy-start"]'))[0].slice(1),
        ["deploy-start", "e1 (unauthenticated)", "from e1"],
      );
      // the name filter; a live event that does not match stays out, one that matches comes in
      await page.fill("#event-filter", "deploy");
      await page.waitForFunction(`document.querySelectorAll("tr.event-row").length === 2`);
      assert.deepEqual((await cells(page, "tr.event-row")).map((r) => r[1]), ["deploy-start", "deploy-done"]);
      assert.equal(await agents[0].cli(["event", "send", "other", "x"]).then((r) => r.code), 0);
      assert.equal(await agents[0].cli(["event", "send", "deploy-end", "v42"]).then((r) => r.code), 0);
      await page.locator('tr.event-row[data-name="deploy-end"]').waitFor({ timeout: 15_000 });
      assert.deepEqual(
        (await cells(page, "tr.event-row")).map((r) => r[1]),
        ["deploy-end", "deploy-start", "deploy-done"],
      );
      assert.match((await page.locator("#event-count").textContent()) ?? "", /^3 of 5 events$/);
      await page.fill("#event-filter", "");
      await page.waitForFunction(`document.querySelectorAll("tr.event-row").length === 5`);
      await page.screenshot({ path: `${ARTIFACTS}/events.png` });

      // from a node's page to its history: that node's changes only, asked of the agent by name
      await page.goto(`${base}#/node/e1`);
      await page.locator("a.node-history").click();
      await page.locator("h2", { hasText: "Membership history of e1" }).waitFor();
      assert.equal(new URL(page.url()).hash, "#/history/e1");
      await page.locator("tr.member-change").first().waitFor({ timeout: 15_000 });
      const nodes = await page.locator("tr.member-change").evaluateAll((r) =>
        r.map((x) => x.getAttribute("data-node"))
      );
      assert.ok(nodes.length >= 1 && nodes.every((n) => n === "e1"), JSON.stringify(nodes));

      // a node in maintenance is marked on the Nodes page and its own page, the reason as text
      const maint = await agents[1].cli(["maintenance", "enable", "--reason", "<b>kernel</b>"]);
      assert.equal(maint.code, 0, maint.stderr);
      await page.goto(`${base}#/nodes`);
      const badge = page.locator('.node[data-name="e1"] span.maint');
      await badge.waitFor({ timeout: 15_000 });
      assert.equal(await badge.getAttribute("title"), "in maintenance: <b>kernel</b>");
      assert.equal(await page.locator('.node[data-name="e0"] span.maint').count(), 0);
      await page.goto(`${base}#/node/e1`);
      await page.locator("h2 span.maint").waitFor({ timeout: 15_000 });
      assert.equal(await page.locator("b").count(), 0);

      // a silenced check of this agent is marked on the Checks page, its reason as text
      const sil = await agents[0].cli([
        "checks",
        "silence",
        "linux/load",
        "--for",
        "1h",
        "--reason",
        "<i>ticket</i>",
      ]);
      assert.equal(sil.code, 0, sil.stderr);
      const mark = page.locator("tr.check-row span.silenced");
      for (let i = 0; i < 40 && !(await mark.count()); i++) {
        await page.goto(`${base}#/checks`);
        await page.locator("tr.check-row").first().waitFor({ timeout: 15_000 }).catch(() => {});
        if (!(await mark.count())) await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(await mark.count(), 1);
      assert.match(
        (await mark.getAttribute("title")) ?? "",
        /^notifications silenced until \S+: <i>ticket<\/i>$/,
      );
      assert.equal(await page.locator("i").count(), 0);

      // the connected agent's own page starts and ends its maintenance; without the token the page says so
      await page.goto(`${base}#/node/e0`);
      await page.evaluate(() => sessionStorage.removeItem("kunai-token"));
      await page.reload();
      await page.fill("#maint-reason", "<u>upgrade</u>");
      await page.selectOption("#maint-for", "2h");
      await page.click("#maint-start");
      // gossip redraws the page meanwhile: what was typed stays in the form
      assert.equal(await page.inputValue("#maint-reason"), "<u>upgrade</u>");
      await page.locator("#maint-msg", { hasText: "needs the agent's API token" }).waitFor({
        timeout: 15_000,
      });
      assert.equal((await agents[0].cli(["maintenance", "status", "--json"])).stdout.trim(), "null");
      await page.evaluate(
        (t) =>
          (globalThis as unknown as { K: { api: { setToken(t: string): void } } }).K.api
            .setToken(t),
        TOKEN,
      );
      await page.click("#maint-start");
      await page.locator("h2 span.maint").waitFor({ timeout: 15_000 });
      const st = JSON.parse((await agents[0].cli(["maintenance", "status", "--json"])).stdout);
      assert.equal(st.reason, "<u>upgrade</u>");
      assert.ok(st.until - st.since > 7_100_000 && st.until - st.since < 7_300_000, JSON.stringify(st));
      assert.equal(await page.locator("u").count(), 0);
      await page.click("#maint-end");
      await page.locator("#maint-start").waitFor({ timeout: 15_000 });
      assert.equal(await page.locator("h2 span.maint").count(), 0);
      assert.equal((await agents[0].cli(["maintenance", "status", "--json"])).stdout.trim(), "null");
      // a redraw whose node state arrives while someone types in the form leaves the focus where it is
      // (a string: the page's DOM, which this file's types do not know)
      const kept = await page.evaluate(`(async () => {
        K.pages.node.update(); // asks for the node's state; the answer comes after the focus below
        const input = document.getElementById("maint-reason");
        input.focus();
        const drawn = () => [...document.querySelectorAll("h3")].some((x) => x.textContent === "Services");
        for (let i = 0; i < 100 && !drawn(); i++) await new Promise((r) => setTimeout(r, 50));
        return { drawn: drawn(), focused: document.activeElement === document.getElementById("maint-reason") };
      })()`);
      assert.deepEqual(kept, { drawn: true, focused: true });
      assert.deepEqual(dialogs, []);
      assert.deepEqual(errors, []);
      await page.close();

      // an agent without these routes (older) or failing: a clear message, the rest of the UI works
      const old = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      const oldErrors: string[] = [];
      old.on("pageerror", (e) => oldErrors.push(String(e)));
      await old.route("**/agent/events", (route) =>
        route.fulfill({
          status: 404,
          contentType: "application/json",
          body: JSON.stringify({ error: "not found" }),
        }));
      await old.route("**/agent/members/history?*", (route) =>
        route.fulfill({
          status: 500,
          contentType: "application/json",
          body: JSON.stringify({ error: "cannot open gossip.db" }),
        }));
      await old.goto(`${base}#/events`);
      const evMsg = old.locator("#events-msg .error");
      await evMsg.waitFor({ timeout: 15_000 });
      assert.match(
        (await evMsg.textContent()) ?? "",
        /cannot load cluster events: not found.*older than this page/,
      );
      await old.click('a[data-page="history"]');
      const hMsg = old.locator("#history-msg .error");
      await hMsg.waitFor({ timeout: 15_000 });
      assert.equal(
        (await hMsg.textContent())?.trim(),
        "cannot load the membership history: cannot open gossip.db",
      );
      await old.screenshot({ path: `${ARTIFACTS}/history-error.png` });
      await old.click('a[data-page="nodes"]');
      await old.locator(".card.node").nth(1).waitFor({ timeout: 15_000 });
      assert.deepEqual(oldErrors, []);
      await old.close();
    } finally {
      await browser.close();
      await Promise.all(agents.map((a) => a.stop()));
    }
  },
});
