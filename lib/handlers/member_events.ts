/**
 * Membership events for event handlers (Serf's `member-join`, `member-leave`, `member-failed`,
 * `member-update`, `member-reap`): the bus's `member.*` changes, coalesced so that a join storm of
 * twenty nodes runs a handler once with twenty lines rather than twenty times.
 *
 * Changes are gathered until the membership has been quiet for MEMBER_QUIET_MS (at most
 * MEMBER_MAX_WAIT_MS after the first); of several changes of one node in a batch only the latest
 * counts, and a node whose latest change is the one it was last reported with is not reported again
 * (Serf's member coalescer). `member-update` means a change a handler may act on: the node's
 * address, port, tags, services or maintenance, not a check's state or a refuted suspicion.
 */
import type { Clock, TimerId } from "../clock/mod.ts";
import { MEMBER_EVENTS, type MemberRecord } from "../types.ts";

export { MEMBER_EVENTS };
export type MemberEventName = typeof MEMBER_EVENTS[number];

/** The bus event each membership event comes from. */
export const MEMBER_BUS_EVENTS = {
  "member.joined": "member-join",
  "member.left": "member-leave",
  "member.dead": "member-failed",
  "member.updated": "member-update",
  "member.reaped": "member-reap",
} as const satisfies Record<string, MemberEventName>;

/** A batch is delivered once the membership was quiet this long... */
export const MEMBER_QUIET_MS = 500;
/** ...or this long after its first change, whichever comes first. */
export const MEMBER_MAX_WAIT_MS = 5_000;

/** True when a pattern of an `event_handler` names membership events (`member-join`, `member-*`). */
export function isMemberPattern(p: string): boolean {
  return p.startsWith("member-");
}

/**
 * One line per node for a handler's stdin, as Serf writes them: `NAME<TAB>ADDR<TAB>UUID<TAB>TAGS`
 * (tags comma-separated, last since they may be empty). No field can hold a tab or a line break, for
 * any reader: control characters, NEL (U+0085) and the line and paragraph separators (U+2028, U+2029;
 * Python's `splitlines()` breaks lines at those) become spaces.
 */
export function memberLine(m: MemberRecord): string {
  return [m.name, m.addr, m.uuid, m.tags.join(",")].map(oneField).join("\t");
}

function oneField(s: string): string {
  // deno-lint-ignore no-control-regex
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ");
}

/** What makes an update worth a `member-update`. */
function signature(m: MemberRecord): string {
  return JSON.stringify([
    m.addr,
    m.port,
    m.tags,
    Object.keys(m.services ?? {}).sort(),
    m.maintenance ? [m.maintenance.reason, m.maintenance.until] : null,
  ]);
}

/** Coalesces `member.*` changes into batches of `member-*` events. */
export class MemberEventBatcher {
  #clock: Clock;
  #deliver: (name: MemberEventName, members: MemberRecord[]) => void;
  #pending = new Map<string, { name: MemberEventName; rec: MemberRecord }>();
  /** The last event each node was reported with, and what its last update looked like. */
  #reported = new Map<string, MemberEventName>();
  #signatures = new Map<string, string>();
  #first = 0;
  #timer: TimerId | null = null;

  constructor(clock: Clock, deliver: (name: MemberEventName, members: MemberRecord[]) => void) {
    this.#clock = clock;
    this.#deliver = deliver;
  }

  /** A change of the membership (`busEvent` a key of MEMBER_BUS_EVENTS). */
  change(busEvent: keyof typeof MEMBER_BUS_EVENTS, rec: MemberRecord): void {
    const name = MEMBER_BUS_EVENTS[busEvent];
    const sig = signature(rec);
    const before = this.#signatures.get(rec.uuid);
    if (name === "member-reap") this.#signatures.delete(rec.uuid);
    else this.#signatures.set(rec.uuid, sig);
    // a check's state or a refuted suspicion bumps the record too: only what a handler acts on counts
    // (a node first seen through an update, e.g. joined before the handlers started, sets the baseline)
    if (name === "member-update" && (before === undefined || before === sig)) return;
    this.#pending.set(rec.uuid, { name, rec });
    const now = this.#clock.now();
    if (this.#timer === null) this.#first = now;
    else this.#clock.clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(MEMBER_QUIET_MS, this.#first + MEMBER_MAX_WAIT_MS - now));
    this.#timer = this.#clock.setTimeout(() => this.flush(), wait);
  }

  /** Delivers what is pending now, one call per event name, nodes sorted by name. */
  flush(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    const byName = new Map<MemberEventName, MemberRecord[]>();
    for (const [uuid, { name, rec }] of this.#pending) {
      const last = this.#reported.get(uuid);
      if (name === "member-reap") this.#reported.delete(uuid);
      else this.#reported.set(uuid, name);
      if (last === name && name !== "member-update") continue;
      const list = byName.get(name) ?? [];
      list.push(rec);
      byName.set(name, list);
    }
    this.#pending.clear();
    for (const name of MEMBER_EVENTS) {
      const list = byName.get(name);
      if (list) this.#deliver(name, list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
    }
  }

  stop(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#pending.clear();
  }
}
