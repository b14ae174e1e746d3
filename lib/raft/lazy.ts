/**
 * The RAFT subsystem as the wiring builds it: lib/raft is imported when the subsystem starts. The
 * wiring adds it only with `raft.groups` configured, so a default agent never loads it (~0.2 MB of
 * the main isolate's heap: its modules' source, their inline source maps and V8's copy of them).
 *
 * ```ts
 * if (config.params.raft.groups.length > 0) add(createLazyRaft(ctx("raft"), { membership, envelope }));
 * ```
 */
import { type Ctx, lazySubsystem, type Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";
import type { PeerEnvelope } from "../transport/mod.ts";

export function createLazyRaft(
  ctx: Ctx,
  deps: { membership: Pick<MembershipView, "members" | "joining">; envelope: PeerEnvelope },
): Subsystem {
  return lazySubsystem("raft", async () => (await import("./mod.ts")).createRaft(ctx, deps), {
    info: { enabled: false, groups: {} },
    routes: true,
  });
}
