/**
 * The DNS subsystem as the wiring builds it: lib/dns and its npm encoder (dns-packet, with
 * Node's Buffer) are imported when the subsystem starts. The wiring adds it only with
 * `dns.enabled`, so a default agent never loads them (~0.5 MB of the main isolate's heap).
 *
 * ```ts
 * if (config.listeners.dns?.enabled === true) add(createLazyDns(ctx("dns"), { membership }));
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";

export function createLazyDns(ctx: Ctx, deps: { membership: Pick<MembershipView, "members"> }): Subsystem {
  let real: Subsystem | null = null;
  return {
    name: "dns",
    async start() {
      const { createDns } = await import("./mod.ts");
      const dns = createDns(ctx, deps);
      await dns.start();
      real = dns;
    },
    async stop() {
      await real?.stop();
      real = null;
    },
    info() {
      return real ? real.info() : { enabled: false };
    },
  };
}
