import assert from "node:assert/strict";
import { createLazyDns } from "../../lib/dns/lazy.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { freePort, makeTestCtx } from "../helpers.ts";
import { decode, member, query } from "./dns_helpers.ts";

Deno.test({
  name: "the lazily built DNS subsystem loads lib/dns at start, answers, and reports like the real one",
  sanitizeResources: false,
  async fn() {
    const addr = "127.0.14.20";
    const port = freePort(addr);
    const ctx = makeTestCtx({
      params: { bind: addr },
      files: { "dns.json": { dns: { enabled: true, port } } },
    });
    const members: MemberRecord[] = [member("n1", "10.0.0.1", ["web"])];
    const dns = createLazyDns(ctx, { membership: { members: () => members } });
    try {
      assert.deepEqual(dns.info(), { enabled: false }, "nothing loaded before start");
      await dns.start();
      assert.equal(dns.info().enabled, true);
      const conn = Deno.listenDatagram({ transport: "udp", hostname: addr, port: 0 });
      try {
        await conn.send(query("web.tag.dc1.kunai"), { transport: "udp", hostname: addr, port });
        const [reply] = await conn.receive();
        assert.deepEqual(decode(reply).answers?.map((a: { data: unknown }) => a.data), ["10.0.0.1"]);
      } finally {
        conn.close();
      }
    } finally {
      await dns.stop();
      ctx.cleanup();
    }
    assert.deepEqual(dns.info(), { enabled: false });
  },
});
