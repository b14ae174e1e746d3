/**
 * Member records are gossiped by any member (and, without an encryption key, by anyone who can reach
 * the gossip port): the web UI must show every field of them as text. Debian's chromium renders each
 * page that shows records (nodes, a node, services, checks, events, history) from a stub agent whose
 * records carry markup in every field; no element of theirs may appear and no script may run.
 */
import assert from "node:assert/strict";
import { buildApp } from "../../lib/http/mod.ts";
import { uiRoutes } from "../../lib/ui/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { makeTestCtx } from "../helpers.ts";
import { haveChromium, launchChromium } from "../browser.ts";

/** Markup that runs a script (setting a global) or adds an element with a class, if parsed as HTML. */
const x = (where: string) =>
  `<img class="pwned" src="data:," onerror="globalThis.__pwned='${where}'"><b class="pwned">${where}</b>`;

const NAME = x("name");
const evil = {
  uuid: "0123456789abcdef",
  name: NAME,
  addr: "10.0.0.66",
  port: 6768,
  incarnation: 1,
  state: "alive",
  tags: [x("tag")],
  zone: x("zone"),
  maintenance: { reason: x("reason"), since: 1, until: null },
  services: {
    [x("service")]: {
      state: x("state"),
      state_id: 2,
      port: x("port"),
      notes: x("notes"),
      check: { id: x("checkid"), state: "critical", state_id: 2, output: x("output") },
    },
  },
};

function api(path: string): unknown {
  if (path === "/") return {};
  if (path === "/agent/members") return { [evil.uuid]: evil };
  if (path === "/state/services") {
    return {
      [x("svcname")]: { name: x("svc"), members: [NAME], "passing-members": [], "failing-members": [NAME] },
    };
  }
  if (path === "/agent/events") {
    return [{
      id: "e1",
      name: x("event"),
      payload: x("payload"),
      from: NAME,
      from_uuid: evil.uuid,
      at: 1,
      received: 1,
      authenticated: false,
    }];
  }
  if (path.startsWith("/agent/state/")) {
    return {
      services: evil.services,
      checks: { [x("checkkey")]: { name: x("checkname"), state: "critical", output: x("checkout") } },
    };
  }
  if (path === "/agent/members/history") {
    return [{
      ts: 1,
      uuid: evil.uuid,
      name: NAME,
      addr: "10.0.0.66:6768",
      change: x("change"),
      incarnation: 1,
    }];
  }
  if (path.startsWith("/agent/checks-history/")) return [];
  if (path === "/collectors") return {};
  return null;
}

Deno.test({
  name: "UI: markup in every field of a member record is shown as text on every page, never run",
  ignore: !haveChromium(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ctx = makeTestCtx();
    const ui = buildApp([uiRoutes()], {
      token: "",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: new Counters(),
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const url = new URL(req.url);
      if (url.pathname.startsWith("/ui")) return ui.fetch(req);
      if (url.pathname === "/agent/name") return new Response("self-node");
      const body = api(url.pathname);
      return body === null ? Response.json({ error: "not here" }, { status: 404 }) : Response.json(body);
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${server.addr.port}/ui/#/nodes`);
      await page.locator(".card.node").first().waitFor({ timeout: 15_000 });
      const pages: Array<[string, string]> = [
        ["#/nodes", "name"],
        [`#/node/${encodeURIComponent(NAME)}`, "checkout"],
        ["#/services", "svcname"],
        ["#/checks", "checkout"],
        ["#/events", "event"],
        ["#/history", "change"],
      ];
      for (const [hash, shown] of pages) {
        await page.evaluate((h) => location.hash = h, hash);
        // the page is drawn once the markup of `shown` appears in it as text
        // (a locator, not waitForFunction: the page's Content-Security-Policy refuses the latter's eval)
        const want = `<b class="pwned">${shown}</b>`;
        await page.locator("#main", { hasText: want }).waitFor({ timeout: 15_000 }).catch(async (e) => {
          throw new Error(`${hash}: ${want} not shown in ${await page.locator("#main").textContent()}: ${e}`);
        });
        await page.waitForTimeout(200); // an onerror of an image would fire by now
        const found = await page.evaluate(
          `({ elements: document.querySelectorAll(".pwned").length, pwned: globalThis.__pwned ?? null })`,
        );
        assert.deepEqual(found, { elements: 0, pwned: null }, hash);
      }
      assert.match(
        await page.locator("#main").textContent() ?? "",
        /<img class="pwned" src="data:," onerror=/,
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
      ctx.cleanup();
    }
  },
});
