/**
 * Services (reference §2.2 `service`): a named thing this node offers, with an optional embedded
 * check registered as `service:<name>`; the service's state follows that check. Pure helpers for
 * the records gossip carries and the `/state/services` view.
 */
import type { MemberRecord } from "../types.ts";
import { redactSecrets } from "../secrets.ts";

/** A loaded service. */
export interface ServiceDef {
  name: string;
  from: string;
  file: string;
  value: Record<string, unknown>;
  /** `*` or a tag (default: the service name). */
  applyOn: string;
  /** Id of its embedded check, if it has one. */
  checkId?: string;
}

/** The state part of a service as published. */
export interface ServiceState {
  state: string;
  state_id: number;
  /** The check output at the last state change (not every run: gossip must stay quiet). */
  output: string;
}

export function makeServiceDef(name: string, file: string, value: Record<string, unknown>): ServiceDef {
  const applyOn = typeof value.apply_on === "string" && value.apply_on ? value.apply_on : name;
  const hasCheck = value.check !== null && typeof value.check === "object";
  return {
    name,
    from: file ? `file:${file}` : "from:http",
    file,
    value,
    applyOn,
    checkId: hasCheck ? `service:${name}` : undefined,
  };
}

/** The record published in our node record (stable between state changes). */
export function serviceRecord(def: ServiceDef, st: ServiceState | undefined): Record<string, unknown> {
  // secret-named fields (a password used by a macro) are never published or shown
  const { check: _check, ...fields } = redactSecrets(def.value) as Record<string, unknown>;
  const state = def.checkId
    ? st ?? { state: "pending", state_id: 3, output: "" }
    : { state: "ok", state_id: 0, output: "" };
  const rec: Record<string, unknown> = {
    ...fields,
    name: def.name,
    id: def.name,
    from: def.from,
    apply_on: def.applyOn,
    port: def.value.port ?? null,
    tags: def.value.tags ?? [],
    notes: def.value.notes ?? "",
    state: state.state,
    state_id: state.state_id,
  };
  if (def.checkId) {
    rec.check = { id: def.checkId, state: state.state, state_id: state.state_id, output: state.output };
  }
  return rec;
}

/** A configured service with the members offering it and which of them pass (`state_id` 0). */
export function serviceMembership(
  name: string,
  base: Record<string, unknown>,
  members: MemberRecord[],
): Record<string, unknown> {
  const having: string[] = [], passing: string[] = [], failing: string[] = [];
  for (const m of members) {
    if (m.state !== "alive" && m.state !== "suspect") continue;
    const s = m.services?.[name] as { state_id?: number } | undefined;
    if (!s) continue;
    having.push(m.name);
    if (s.state_id === 0) passing.push(m.name);
    else failing.push(m.name);
  }
  having.sort();
  passing.sort();
  failing.sort();
  return {
    ...structuredClone(base),
    members: having,
    "passing-members": passing,
    passing: passing.length,
    "failing-members": failing,
    failing: failing.length,
  };
}
