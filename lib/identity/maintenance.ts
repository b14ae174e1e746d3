/**
 * Node maintenance (Consul's `consul maint`, Nagios' scheduled downtime for a host): an operator puts
 * the node in maintenance before rebooting or upgrading it. Gossip carries it in the node's record,
 * so every agent knows: handlers send no notification for the node or its checks, DNS leaves it out
 * of tag and service answers (its own name still resolves), generators leave it out of `ok_nodes`
 * (a load balancer's backend list drains it). It is saved in `agent.db` (a reboot keeps it) and
 * ends by itself at `until` when a duration was given.
 *
 * ```ts
 * const m = parseMaintenanceRequest({ reason: "kernel upgrade", for: "2h" }, Date.now());
 * node.setMaintenance(m); // saved, gossiped
 * ```
 */
import { parseDuration } from "../clock/mod.ts";
import type { Clock, TimerId } from "../clock/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Database } from "../store/mod.ts";
import type { Maintenance } from "../types.ts";
import type { LocalNode } from "./mod.ts";

/** Longest reason, in characters (it travels in every copy of the node's record). */
export const MAX_REASON = 256;
/** Longest maintenance with an end (a year); without `for` it lasts until disabled. */
export const MAX_DURATION_MS = 366 * 86_400_000;

/** The maintenance a `PUT /agent/maintenance` body asks for; throws an Error naming the field. */
export function parseMaintenanceRequest(body: unknown, now: number): Maintenance {
  if (body === null || body === undefined || body === "") body = {};
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new Error('expected a JSON object such as {"reason": "kernel upgrade", "for": "2h"}');
  }
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== "reason" && k !== "for") throw new Error(`unknown field ${JSON.stringify(k)} (reason, for)`);
  }
  const reason = o.reason ?? "";
  if (typeof reason !== "string") throw new Error("reason: expected a string");
  if (reason.length > MAX_REASON) {
    throw new Error(`reason: at most ${MAX_REASON} characters, got ${reason.length}`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(reason)) throw new Error("reason: control characters are not allowed");
  let until: number | null = null;
  if (o.for !== undefined && o.for !== null && o.for !== "") {
    if (typeof o.for !== "string" && typeof o.for !== "number") {
      // named by its type: quoting a list nested 100 000 deep overflowed the stack
      throw new Error(
        `for: expected a duration such as 30m or 2h, got ${
          Array.isArray(o.for) ? "a list" : `a ${typeof o.for}`
        }`,
      );
    }
    const ms = parseDuration(o.for);
    if (ms === null || ms < 1000 || ms > MAX_DURATION_MS) {
      throw new Error(
        `for: expected a duration from 1s to 366d such as 30m or 2h, got ${JSON.stringify(o.for)}`,
      );
    }
    until = Math.round(now + ms);
  }
  return { reason, since: Math.round(now), until };
}

/** The maintenance a previous run saved, or null (none, or it ended while the agent was down). */
export function loadMaintenance(db: Database, now: number): Maintenance | null {
  const row = db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'maintenance'");
  if (!row) return null;
  try {
    const m = JSON.parse(row.value) as Maintenance;
    if (typeof m?.reason !== "string" || typeof m.since !== "number") return null;
    if (m.until !== null && !(typeof m.until === "number" && m.until > now)) return null;
    return { reason: m.reason, since: m.since, until: m.until };
  } catch {
    return null;
  }
}

export function saveMaintenance(db: Database, m: Maintenance | null): void {
  if (!db.isOpen) return;
  if (m) db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('maintenance', ?)", JSON.stringify(m));
  else db.run("DELETE FROM meta WHERE key = 'maintenance'");
}

/** Ends the node's maintenance at its `until` (re-armed by `arm()` after each change). */
export class MaintenanceEnd {
  #timer: TimerId | null = null;

  constructor(private node: LocalNode, private clock: Clock, private log: Logger) {}

  arm(): void {
    this.stop();
    const m = this.node.maintenance();
    if (!m || m.until === null) return;
    // timers hold 32-bit delays: a long maintenance is re-armed in steps
    const wait = Math.min(Math.max(0, m.until - this.clock.now()), 2 ** 31 - 1);
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = null;
      const cur = this.node.maintenance();
      if (!cur || cur.until === null) return;
      if (cur.until > this.clock.now()) return this.arm();
      this.log.info(`maintenance ended (it was set for ${Math.round((cur.until - cur.since) / 1000)} s)`);
      this.node.setMaintenance(
        null,
        (err) => this.log.error(`cannot save the end of the maintenance: ${err.message}`),
      );
    }, wait);
  }

  stop(): void {
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
