/**
 * Real agents (127.0.14.1-3) with DNS enabled, queried with the real `dig`: exact addresses by tag,
 * node and service (SRV), reverse (PTR), NXDOMAIN with SOA, TCP, and a killed node leaving the answers once
 * dead.
 */
import assert from "node:assert/strict";
import { AgentClient } from "../../lib/client/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, startCluster, until } from "../helpers.ts";

async function api<T>(a: AgentProc, path: string): Promise<T> {
  const c = new AgentClient({ socket: a.socket, timeoutMs: 10_000 });
  try {
    return await c.json<T>("GET", path);
  } finally {
    c.close();
  }
}

async function dig(addr: string, port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: [`@${addr}`, "-p", String(port), "+time=2", "+tries=1", ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15_000),
  }).output();
  return new TextDecoder().decode(out.stdout);
}

const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean).sort();

Deno.test({
  name: "e2e dns: dig answers by tag, node and service from 3 real agents; a killed node disappears",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const addrs = ["127.0.14.1", "127.0.14.2", "127.0.14.3"];
    // (not "redis": the default pack's redis service check fails without a redis server, and the
    // original leaves out nodes whose service named like the tag is failing)
    const tags = [["cache", "web"], ["cache"], ["web"]];
    const dnsPorts = addrs.map((a) => freePort(a));
    const agents: AgentProc[] = [];
    try {
      await startCluster(agents, addrs, (i) => ({
        name: `d${i}`,
        params: { tags: tags[i] },
        files: {
          "dns.json": { dns: { enabled: true, port: dnsPorts[i], domain: ".kunai", ttl: 45 } },
          "services/http.json": { service: { name: "http", port: 8080, apply_on: "web" } },
        },
      }));
      const [a] = agents;
      const alive = async (n: number) => {
        const m = await api<Record<string, MemberRecord>>(a, "/agent/members");
        const v = Object.values(m);
        return v.filter((r) => r.state === "alive").length === n &&
          v.filter((r) => r.services?.http).length === 2;
      };
      await until("3 alive members with their services", () => alive(3), 30_000, 200);

      const info = await api<{ dns: { enabled: boolean; port: number } }>(a, "/agent/info");
      assert.equal(info.dns.enabled, true);
      assert.equal(info.dns.port, dnsPorts[0]);

      const q = (...args: string[]) => dig(addrs[0], dnsPorts[0], ...args);
      assert.deepEqual(lines(await q("cache.tag.dc1.kunai", "+short")), ["127.0.14.1", "127.0.14.2"]);
      assert.deepEqual(lines(await q("web.tag.dc1.kunai", "+short")), ["127.0.14.1", "127.0.14.3"]);
      assert.deepEqual(lines(await q("CACHE.Tag.DC1.Kunai", "+short")), ["127.0.14.1", "127.0.14.2"]);
      assert.deepEqual(lines(await q("d1.node.dc1.kunai", "+short")), ["127.0.14.2"]);
      assert.deepEqual(lines(await q("cache.tag.dc1.kunai", "+short", "+tcp")), ["127.0.14.1", "127.0.14.2"]);
      // another agent answers the same
      assert.deepEqual(lines(await dig(addrs[2], dnsPorts[2], "cache.tag.dc1.kunai", "+short")), [
        "127.0.14.1",
        "127.0.14.2",
      ]);
      // TTL
      const full = await q("cache.tag.dc1.kunai", "+noall", "+answer");
      assert.match(full, /cache\.tag\.dc1\.kunai\.\s+45\s+IN\s+A\s+127\.0\.14\.\d/);
      // SRV with the service port, targets resolvable
      assert.deepEqual(lines(await q("http.service.dc1.kunai", "SRV", "+short")), [
        "1 1 8080 d0.node.dc1.kunai.",
        "1 1 8080 d2.node.dc1.kunai.",
      ]);
      assert.deepEqual(lines(await q("http.service.dc1.kunai", "+short")), ["127.0.14.1", "127.0.14.3"]);
      // RFC 2782's form (HAProxy's server-template asks it)
      assert.deepEqual(lines(await q("_http._tcp.service.kunai", "SRV", "+short")), [
        "1 1 8080 d0.node.kunai.",
        "1 1 8080 d2.node.kunai.",
      ]);
      // NXDOMAIN with the SOA in authority
      const nx = await q("nope.tag.dc1.kunai", "+noall", "+comments", "+authority");
      assert.match(nx, /status: NXDOMAIN/);
      assert.match(nx, /^kunai\.\s+45\s+IN\s+SOA\s+ns\.kunai\. hostmaster\.kunai\./m);
      assert.match(nx, /flags: qr aa rd;/);
      // outside the domain: REFUSED
      assert.match(await q("example.com", "+noall", "+comments"), /status: REFUSED/);
      // reverse lookups of members' addresses (Consul's PTR); another address is not ours: REFUSED
      assert.deepEqual(lines(await q("-x", "127.0.14.2", "+short")), ["d1.node.kunai."]);
      assert.match(
        await q("-x", "127.0.14.3", "+noall", "+answer"),
        /^3\.14\.0\.127\.in-addr\.arpa\.\s+45\s+IN\s+PTR\s+d2\.node\.kunai\.$/m,
      );
      assert.match(await q("-x", "127.0.14.9", "+noall", "+comments"), /status: REFUSED/);

      // kill -9 d1: once dead, it is gone from the answers
      await agents[1].kill9();
      await until(
        "d1 dead on d0",
        async () => {
          const m = await api<Record<string, MemberRecord>>(a, "/agent/members");
          return Object.values(m).find((r) => r.name === "d1")?.state === "dead";
        },
        40_000,
        200,
      );
      assert.deepEqual(lines(await q("cache.tag.dc1.kunai", "+short")), ["127.0.14.1"]);
      assert.match(await q("d1.node.dc1.kunai", "+noall", "+comments"), /status: NXDOMAIN/);
      assert.match(await q("-x", "127.0.14.2", "+noall", "+comments"), /status: REFUSED/);

      const metrics = await (async () => {
        const c = new AgentClient({ socket: a.socket });
        try {
          return await (await c.request("GET", "/metrics")).text();
        } finally {
          c.close();
        }
      })();
      assert.match(metrics, /kunai_dns_queries_total\{proto="udp"\} [1-9]/);
      // counted at scrape time: both NXDOMAIN answers above are in, however fast the test ran
      assert.match(metrics, /kunai_dns_responses_total\{rcode="NXDOMAIN"\} [2-9]/);
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
      for (const x of agents) Deno.removeSync(x.dir, { recursive: true });
    }
  },
});
