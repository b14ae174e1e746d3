/**
 * The DNS subsystem as the wiring builds it: lib/dns and its npm encoder (dns-packet, with
 * Node's Buffer) are imported when the subsystem starts. The wiring adds it only with
 * `dns.enabled`, so a default agent never loads them (~0.5 MB of the main isolate's heap).
 *
 * ```ts
 * if (config.listeners.dns?.enabled === true) add(createLazyDns(ctx("dns"), { membership }));
 * ```
 */
import { type Ctx, lazySubsystem, type Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";

export function createLazyDns(
  ctx: Ctx,
  deps: { membership: Pick<MembershipView, "members" | "joining"> },
): Subsystem {
  return lazySubsystem("dns", async () => (await import("./mod.ts")).createDns(ctx, deps), {
    info: { enabled: false },
  });
}
