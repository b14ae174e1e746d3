/**
 * The DNS subsystem alone (real sockets, real handler) over a simulated membership, for
 * scripts/bench/dns_bench.ts: NODES nodes `web-N` at 127.0.1.N, each tagged `web-N` and one of
 * TAGS, the layout run-dns-anchor.sh gives dnsmasq. Usage: dns_server.ts PORT [NODES].
 */
import { createDns } from "../../lib/dns/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { makeTestCtx } from "../../tests/helpers.ts";
import { RealClock } from "../../lib/clock/mod.ts";

const port = Number(Deno.args[0]);
const nodes = Number(Deno.args[1] ?? 50);
const tags = (Deno.env.get("TAGS") ?? "web db cache lb api").split(/\s+/);
const members: MemberRecord[] = [];
for (let i = 1; i <= nodes; i++) {
  members.push({
    uuid: `bench-${i}`,
    name: `web-${i}`,
    addr: `127.0.1.${i}`,
    port: 6768,
    incarnation: 1,
    state: "alive",
    tags: [`web-${i}`, tags[(i - 1) % tags.length]],
    services: {},
    zone: "",
  });
}
const ctx = makeTestCtx({
  params: { bind: "127.0.0.1" },
  files: { "dns.json": { dns: { enabled: true, port } } },
  clock: new RealClock(),
});
const dns = createDns(ctx, { membership: { members: () => members } });
await dns.start();
console.log("ready");
Deno.addSignalListener("SIGTERM", async () => {
  await dns.stop();
  ctx.cleanup();
  Deno.exit(0);
});
