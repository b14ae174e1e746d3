/**
 * The RAFT subsystem as the wiring builds it: lib/raft is imported when the subsystem starts. The
 * wiring adds it only with `raft.groups` configured, so a default agent never loads it (~0.2 MB of
 * the main isolate's heap: its six modules' source, their inline source maps and V8's copy of them).
 * Routes are asked for after every subsystem started (lib/agent.ts), so they come from the real one.
 *
 * ```ts
 * if (config.params.raft.groups.length > 0) add(createLazyRaft(ctx("raft"), { membership, envelope }));
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import type { RouteTable } from "../routing/mod.ts";

export function createLazyRaft(
  ctx: Ctx,
  deps: { membership: Pick<MembershipView, "members">; envelope: PeerEnvelope },
): Subsystem {
  let real: Subsystem | null = null;
  return {
    name: "raft",
    async start() {
      const { createRaft } = await import("./mod.ts");
      const raft = createRaft(ctx, deps);
      await raft.start();
      real = raft;
    },
    async stop() {
      await real?.stop();
      real = null;
    },
    info() {
      return real ? real.info() : { enabled: false, groups: {} };
    },
    routes(): RouteTable {
      if (!real?.routes) throw new Error("raft: routes asked for before the subsystem started");
      return real.routes();
    },
  };
}
