/** What the handler tests emit and answer: a check's state change and this node's record. */
import type { CheckResultEvent, MemberRecord } from "../../lib/types.ts";

/** `check.changed` of linux/cpu from `old` to `state`. */
export function change(
  state: CheckResultEvent["state"],
  old: CheckResultEvent["state"],
  extra: Partial<CheckResultEvent> = {},
): CheckResultEvent {
  const ids: Record<string, number> = { ok: 0, warning: 1, critical: 2, unknown: 3, pending: 3 };
  return {
    id: "linux/cpu",
    name: "linux/cpu",
    state,
    state_id: ids[state],
    old_state: old,
    old_state_id: ids[old],
    output: `CPU is ${state}`,
    last_check: 1,
    handlers: ["default"],
    ...extra,
  };
}

/** An alive member record (the handlers' `node` variable). */
export function memberRecord(uuid: string, name: string, addr = "10.1.2.3"): MemberRecord {
  return { uuid, name, addr, port: 6768, incarnation: 0, state: "alive", tags: [], services: {}, zone: "" };
}
