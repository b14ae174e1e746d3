/**
 * kunai's public API: embed an agent, talk to one, or reuse its building blocks.
 *
 * ```ts
 * import { Agent, resolveConfig } from "./mod.ts";
 * const agent = new Agent({ config: resolveConfig({ cfgDir: "/etc/kunai" }) });
 * await agent.start();
 * ```
 */
export { Agent } from "./lib/agent.ts";
export { buildSubsystems, type WiringInputs } from "./lib/wiring.ts";
export type { AgentOptions } from "./lib/agent.ts";
export { ConfigError, resolveConfig } from "./lib/config/mod.ts";
export type { AgentConfig, AgentParams } from "./lib/config/mod.ts";
export { AgentClient, AgentHttpError, AgentUnreachable } from "./lib/client/mod.ts";
export { EventBus } from "./lib/bus.ts";
export type { AgentEvents } from "./lib/bus.ts";
export { RealClock, VirtualClock } from "./lib/clock/mod.ts";
export type { Clock } from "./lib/clock/mod.ts";
export type { Ctx, Subsystem } from "./lib/subsystem.ts";
export type { MemberRecord, MembershipView } from "./lib/types.ts";
export { VERSION } from "./lib/version.ts";
