/**
 * A real HAProxy (Debian's) load-balancing from kunai's DNS, as with Consul: `server-template` asks the
 * RFC 2782 SRV name `_http._tcp.service.kunai` of two real agents (127.0.15.1-2) and fills its servers
 * with their addresses and service ports; a node put in maintenance leaves the SRV answer, and HAProxy
 * drops its server (the drain before a reboot).
 */
import assert from "node:assert/strict";
import { AgentClient } from "../../lib/client/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, startCluster, tempDir, until } from "../helpers.ts";

const haproxy = (() => {
  try {
    return new Deno.Command("haproxy", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();

/** HAProxy's `show servers state web`: each server's address and port ("-" and 0 while unresolved). */
async function servers(sock: string): Promise<string[]> {
  const conn = await Deno.connect({ transport: "unix", path: sock });
  try {
    await conn.write(new TextEncoder().encode("show servers state web\n"));
    let text = "";
    const buf = new Uint8Array(65536);
    for (let n; (n = await conn.read(buf)) !== null;) text += new TextDecoder().decode(buf.subarray(0, n));
    // columns: be_id be_name srv_id srv_name srv_addr ... srv_fqdn srv_port srvrecord ...
    return text.split("\n").filter((l) => /^\d+ web /.test(l)).map((l) => l.split(" "))
      .filter((f) => f[4] !== "-").map((f) => `${f[4]}:${f[18]} ${f[17]}`).sort();
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "e2e dns: a real HAProxy fills server-template from _http._tcp.service.kunai; maintenance drains",
  ignore: !haproxy,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const addrs = ["127.0.15.1", "127.0.15.2"];
    const dnsPort = freePort(addrs[0]);
    const agents: AgentProc[] = [];
    using dir = tempDir("kunai-haproxy-");
    let proxy: Deno.ChildProcess | null = null;
    try {
      await startCluster(agents, addrs, (i) => ({
        name: `x${i}`,
        params: { tags: ["web"] },
        files: {
          "dns.json": {
            dns: { enabled: true, port: i ? freePort(addrs[i]) : dnsPort, domain: ".kunai", ttl: 1 },
          },
          "services/http.json": { service: { name: "http", port: 8080 + i, apply_on: "web" } },
        },
      }));
      const members = async () => {
        const c = new AgentClient({ socket: agents[0].socket, timeoutMs: 10_000 });
        try {
          return Object.values(await c.json<Record<string, MemberRecord>>("GET", "/agent/members"));
        } finally {
          c.close();
        }
      };
      await until(
        "both http services passing on x0",
        async () =>
          (await members()).filter((m) =>
            (m.services?.http as { state_id?: number } | undefined)?.state_id === 0
          ).length === 2,
        30_000,
        200,
      );

      const sock = `${dir.dir}/haproxy.sock`;
      Deno.writeTextFileSync(
        `${dir.dir}/haproxy.cfg`,
        [
          "global",
          `  stats socket ${sock} mode 600 level admin`,
          "resolvers kunai",
          `  nameserver k ${addrs[0]}:${dnsPort}`,
          "  accepted_payload_size 4096",
          "  hold valid 1s",
          "  timeout resolve 200ms",
          "  timeout retry 200ms",
          "defaults",
          "  mode http",
          "  timeout connect 1s",
          "  timeout client 5s",
          "  timeout server 5s",
          "backend web",
          "  server-template s 4 _http._tcp.service.kunai resolvers kunai init-addr none",
          "",
        ].join("\n"),
      );
      proxy = new Deno.Command("haproxy", {
        args: ["-f", `${dir.dir}/haproxy.cfg`, "-db"],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const want = ["127.0.15.1:8080 x0.node.kunai", "127.0.15.2:8081 x1.node.kunai"];
      let seen: string[] = [];
      await until(
        "HAProxy's servers from the SRV answer",
        async () => {
          seen = await servers(sock).catch((e) => [String(e)]);
          return seen.length === want.length && seen.every((s, i) => s === want[i]);
        },
        20_000,
        200,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(seen)}`);
      });

      // x1 in maintenance: out of the SRV answer, so out of HAProxy's backend
      const c = new AgentClient({ socket: agents[1].socket, timeoutMs: 10_000 });
      try {
        const res = await c.request("PUT", "/agent/maintenance", JSON.stringify({ reason: "reboot" }));
        assert.equal(res.status, 200, await res.text());
      } finally {
        c.close();
      }
      await until(
        "HAProxy drops x1",
        async () => {
          seen = await servers(sock).catch((e) => [String(e)]);
          return seen.length === 1 && seen[0] === want[0];
        },
        20_000,
        200,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(seen)}`);
      });
    } finally {
      if (proxy) {
        try {
          proxy.kill("SIGKILL");
        } catch { /* gone */ }
        await proxy.status;
        await proxy.stderr.cancel().catch(() => {});
      }
      await Promise.all(agents.map((x) => x.stop()));
      for (const x of agents) Deno.removeSync(x.dir, { recursive: true });
    }
  },
});
