/**
 * The Shinken export as the wiring builds it: the exporter (lib/shinken/mod.ts and its renderers)
 * is imported when it starts with a `shinken` object configured, or on the first request of its
 * export route; a default agent (no `shinken` object) only holds the route.
 *
 * ```ts
 * add(createLazyShinken(ctx("shinken"), { membership, localChecks }));
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { CheckBrief, LocalChecks, RemoteChecks, ShinkenMembership } from "./types.ts";
import { type ShinkenApi, shinkenRoutes } from "./routes.ts";

export function createLazyShinken(
  ctx: Ctx,
  deps: { membership: ShinkenMembership; localChecks?: LocalChecks; remoteChecks?: RemoteChecks },
): Subsystem {
  const raw = ctx.config.listeners.shinken as { enabled?: boolean } | undefined;
  // as mod.ts decides: a shinken object, not disabled
  const enabled = Boolean(raw) && Boolean(raw?.enabled);
  let real: Promise<Subsystem & ShinkenApi> | null = null;
  const load = () => real ??= import("./mod.ts").then((m) => m.createShinken(ctx, deps));
  let started: (Subsystem & ShinkenApi) | null = null;
  return {
    name: "shinken",
    async start() {
      if (!enabled) return;
      started = await load();
      await started.start();
    },
    async stop() {
      await started?.stop();
      started = null;
    },
    info: () => started ? started.info() : { enabled: false },
    routes: () => shinkenRoutes(load),
  };
}

/** A node's answer to the state route, as the exporter needs it: its checks, or null when malformed. */
export function checkBriefs(checks: unknown): CheckBrief[] | null {
  if (!checks || typeof checks !== "object" || Array.isArray(checks)) return null;
  const out: CheckBrief[] = [];
  for (const [id, v] of Object.entries(checks as Record<string, unknown>)) {
    if (!v || typeof v !== "object" || Array.isArray(v)) continue;
    const c = v as Record<string, unknown>;
    const sid = c.state_id;
    out.push({
      id,
      state_id: typeof sid === "number" && Number.isInteger(sid) && sid >= 0 && sid <= 3 ? sid : 3,
      output: typeof c.output === "string" ? c.output : "",
    });
  }
  return out;
}
