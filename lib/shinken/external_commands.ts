/**
 * The external commands of the Shinken/Nagios export (reference §10.1): pushes check results (and
 * host up/down) into the external command file, with a host downtime per node in maintenance and an
 * acknowledgement per silenced check of ours in a problem state (quiet.ts).
 */
import type { Ctx } from "../subsystem.ts";
import type { CheckResultEvent, MemberRecord } from "../types.ts";
import {
  exportedChecks,
  hostResultLine,
  memberChecks,
  safeHostName,
  serviceResultLine,
} from "./cfg_render.ts";
import { pushLines } from "./command_file.ts";
import { loadNotes, type Notes, type Plan, planAck, planDowntime, saveNotes } from "./quiet.ts";
import type { CheckBrief, LocalChecks, ShinkenConfig, ShinkenMembership } from "./types.ts";

/**
 * An external command line and, for a service result, the state it reports once written; `commit`
 * runs once it is written (what Nagios now knows of a downtime or an acknowledgement).
 */
interface PendingLine {
  line: string;
  remember?: [host: string, service: string, stateId: number];
  commit?: () => void;
}

/** Longest timer delay (32 bits); a later silence end is re-checked after it. */
const MAX_DELAY = 2 ** 31 - 1;
/** When an acknowledgement's removal could not be written, it is tried again after this long. */
const RETRY_MS = 60_000;
/**
 * After lines were dropped (no reader on the pipe: Nagios restarting or reloading, which reopens it;
 * a full pipe), what Nagios was not told is told again after this long, doubling up to RESYNC_MAX_MS.
 */
export const RESYNC_FIRST_MS = 1000;
export const RESYNC_MAX_MS = 30_000;

/** Tells the monitoring tool, through its external command file, what the cluster knows. */
export class ExternalCommands {
  #ctx: Ctx;
  #cfg: ShinkenConfig;
  #membership: ShinkenMembership;
  #localChecks?: LocalChecks;
  #stopped = false;
  /**
   * Last state pushed per host and service, so a member update pushes only what changed (a host's
   * services that are gone, and hosts reaped, are forgotten).
   */
  #pushed = new Map<string, Map<string, number>>();
  /** Hosts we reported down (dead), to report them up again when they come back. */
  #down = new Set<string>();
  /** Downtimes and acknowledgements Nagios was told of (loaded on first use, saved on change). */
  #notes: Notes | null = null;
  #notesDirty = false;
  /** Re-checks acknowledgements when the first silence with an end ends. */
  #ackTimer: number | null = null;
  /** Unsafe node uuids already logged (such nodes are not exported). */
  #badNames = new Set<string>();
  /** Tells Nagios again what dropped lines did not (see RESYNC_FIRST_MS). */
  #resyncTimer: number | null = null;
  #resyncDelay = RESYNC_FIRST_MS;
  stats = { lines: 0, dropped: 0, resyncs: 0 };

  /** Another node's own checks as it answered them last (remote_checks.ts). */
  #remote?: (uuid: string) => CheckBrief[] | undefined;

  constructor(
    ctx: Ctx,
    cfg: ShinkenConfig,
    membership: ShinkenMembership,
    localChecks?: LocalChecks,
    remote?: (uuid: string) => CheckBrief[] | undefined,
    keepLeft?: (uuid: string) => boolean,
  ) {
    this.#ctx = ctx;
    this.#cfg = cfg;
    this.#membership = membership;
    this.#localChecks = localChecks;
    this.#remote = remote;
    this.#keepLeft = keepLeft ?? (() => false);
  }

  /** A node that left moments ago (a restart): still exported, its downtime kept (mod.ts LEFT_GRACE_MS). */
  #keepLeft: (uuid: string) => boolean;

  /** Left for longer than the grace: what we export of it goes. */
  #gone(m: MemberRecord): boolean {
    return m.state === "leave" && !this.#keepLeft(m.uuid);
  }

  /** Another node's checks as exported on its host: what it answered, then its services' from gossip. */
  #otherChecks(m: MemberRecord) {
    return exportedChecks([...(this.#remote?.(m.uuid) ?? []), ...memberChecks(m)]);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#ackTimer !== null) this.#ctx.clock.clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    if (this.#resyncTimer !== null) this.#ctx.clock.clearTimeout(this.#resyncTimer);
    this.#resyncTimer = null;
  }

  /** Our own check changed state: push its result, then its acknowledgement if it is silenced. */
  onCheckChanged(ev: CheckResultEvent): void {
    const self = this.#membership.self();
    if (!this.#safe(self)) return;
    const c = this.#ownChecks(self).find((x) => x.id === ev.id);
    if (!c) return;
    // the result first: Nagios ignores an acknowledgement for a service it still sees OK
    this.#push([this.#serviceLine(self.uuid, c.service, ev.state_id, ev.output)]);
    this.syncAcks();
  }

  /** A check of ours was silenced or un-silenced. */
  onSilenced(): void {
    this.syncAcks();
  }

  /**
   * A member's record changed: push the results of its checks that changed, host up/down, and its
   * downtime when its maintenance changed. `reaped`: the member is gone from the membership (a node
   * that left, or was forgotten, has no downtime of ours any more). Told by the event, not found by
   * scanning the membership: that was O(members) per event.
   */
  onMember(m: MemberRecord, reaped = false): void {
    if (!this.#safe(m)) return;
    const lines = this.#hostLines(m);
    const self = m.uuid === this.#membership.self().uuid;
    if (!self) {
      const checks = this.#otherChecks(m);
      const had = this.#pushed.get(m.uuid);
      if (had) {
        const now = new Set(checks.map((c) => c.service));
        for (const service of had.keys()) if (!now.has(service)) had.delete(service);
      }
      for (const c of checks) {
        if (had?.get(c.service) === c.state_id) continue;
        lines.push(this.#serviceLine(m.uuid, c.service, c.state_id, c.output));
      }
    }
    if (this.#cfg.external_command_file && (m.maintenance || this.#notesOf().downtimes[m.uuid])) {
      const gone = this.#gone(m) || reaped;
      lines.push(...this.#downtimeLines(m.uuid, gone ? null : m.maintenance ?? null));
    }
    this.#push(lines);
    if (self) this.syncAcks();
  }

  /** Host down (dead) or up again (alive after we said dead); remembered once written. */
  #hostLines(m: MemberRecord): PendingLine[] {
    const now = Math.floor(this.#ctx.clock.now() / 1000);
    const uuid = m.uuid;
    if (m.state === "dead" && !this.#down.has(uuid)) {
      return [{
        line: hostResultLine(now, uuid, 1, `kunai: node ${m.name} is dead`),
        commit: () => this.#down.add(uuid),
      }];
    }
    if (m.state === "alive" && this.#down.has(uuid)) {
      return [{
        line: hostResultLine(now, uuid, 0, `kunai: node ${m.name} is alive`),
        commit: () => this.#down.delete(uuid),
      }];
    }
    return [];
  }

  /**
   * After dropped lines: every host state, result, downtime and acknowledgement Nagios was not told
   * (what was written is remembered, so only the rest goes; a result that changed meanwhile goes as
   * it is now).
   */
  resync(): void {
    if (!this.#cfg.external_command_file || this.#stopped) return;
    this.stats.resyncs++;
    this.#tellMissing();
  }

  #armResync(): void {
    if (this.#resyncTimer !== null || this.#stopped) return;
    const wait = this.#resyncDelay;
    this.#resyncDelay = Math.min(wait * 2, RESYNC_MAX_MS);
    this.#resyncTimer = this.#ctx.clock.setTimeout(() => {
      this.#resyncTimer = null;
      this.resync();
    }, wait);
  }

  /** A member was reaped (gone from the membership for good): its downtime goes, then all we kept of it. */
  onReaped(m: MemberRecord): void {
    this.onMember(m, true);
    this.#forget(m.uuid);
  }

  #forget(uuid: string): void {
    this.#pushed.delete(uuid);
    this.#down.delete(uuid);
    this.#badNames.delete(uuid);
  }

  /**
   * At start: every known result once (and the nodes known dead), so the monitoring tool does not
   * wait for changes; downtimes and acknowledgements Nagios lacks (or has for a maintenance or
   * silence that ended meanwhile).
   */
  pushAll(): void {
    this.#tellMissing(); // nothing is known written yet: everything
  }

  /**
   * What Nagios was not told (nothing at start; after dropped lines, what they held): host down/up,
   * results not written in their current state, downtimes (also of nodes gone meanwhile), then
   * acknowledgements.
   */
  #tellMissing(): void {
    const self = this.#membership.self();
    const lines: PendingLine[] = [];
    const known = new Set<string>();
    for (const m of this.#membership.members()) {
      if (this.#gone(m) || !this.#safe(m)) continue;
      known.add(m.uuid);
      lines.push(...this.#hostLines(m));
      const had = this.#pushed.get(m.uuid);
      const checks = m.uuid === self.uuid ? this.#ownChecks(m) : this.#otherChecks(m);
      for (const c of checks) {
        if (had?.get(c.service) !== c.state_id) {
          lines.push(this.#serviceLine(m.uuid, c.service, c.state_id, c.output));
        }
      }
      lines.push(...this.#downtimeLines(m.uuid, m.maintenance ?? null));
    }
    for (const uuid of Object.keys(this.#notesOf().downtimes)) {
      if (!known.has(uuid)) lines.push(...this.#downtimeLines(uuid, null));
    }
    this.#push(lines);
    this.syncAcks();
  }

  /** Downtimes and acknowledgements kunai has told Nagios of (for info). */
  quietInfo(): { downtimes: number; acknowledgements: number } {
    const n = this.#notesOf();
    return { downtimes: Object.keys(n.downtimes).length, acknowledgements: Object.keys(n.acks).length };
  }

  /**
   * Brings the acknowledgements of our services in line with their silences and with the states
   * Nagios was told (an ack after the result that makes the service a problem; removed when the
   * silence ends; forgotten when an OK result removed it in Nagios), and re-arms the timer for the
   * next silence end.
   */
  syncAcks(): void {
    if (!this.#cfg.external_command_file || this.#stopped) return;
    const self = this.#membership.self();
    if (!safeHostName(self.uuid)) return;
    const notes = this.#notesOf();
    const nowS = Math.floor(this.#ctx.clock.now() / 1000);
    const lines: PendingLine[] = [];
    const seen = new Set<string>();
    const plan = (service: string, silenced: { reason: string; until: number | null } | null | undefined) => {
      const pushed = this.#pushed.get(self.uuid)?.get(service);
      const p = planAck(self.uuid, service, silenced, pushed, notes.acks[service], nowS);
      if (p) lines.push(...this.#planLines(p, (next) => this.#setNote(notes.acks, service, next)));
    };
    for (const c of this.#ownChecks(self)) {
      seen.add(c.service);
      plan(c.service, c.silenced);
    }
    for (const service of Object.keys(notes.acks)) if (!seen.has(service)) plan(service, null);
    this.#push(lines);
    this.#armAckTimer();
  }

  #armAckTimer(): void {
    if (this.#ackTimer !== null) this.#ctx.clock.clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    const now = this.#ctx.clock.now();
    let wait = Infinity;
    for (const { until } of Object.values(this.#notesOf().acks)) {
      // an end already passed: its removal was dropped (no reader, full pipe), tried again in a minute
      if (until !== null) wait = Math.min(wait, until > now ? until - now + 1 : RETRY_MS);
    }
    if (wait === Infinity || this.#stopped) return;
    wait = Math.min(wait, MAX_DELAY);
    this.#ackTimer = this.#ctx.clock.setTimeout(() => {
      this.#ackTimer = null;
      this.syncAcks();
    }, wait);
  }

  /** Our checks as exported on our host (local ones first: they carry the silence). */
  #ownChecks(self: MemberRecord) {
    return exportedChecks<ReturnType<LocalChecks>[number]>([
      ...(this.#localChecks?.() ?? []),
      ...memberChecks(self),
    ]);
  }

  #downtimeLines(uuid: string, m: MemberRecord["maintenance"] | null): PendingLine[] {
    if (!this.#cfg.external_command_file) return [];
    const notes = this.#notesOf();
    const nowS = Math.floor(this.#ctx.clock.now() / 1000);
    const p = planDowntime(uuid, m ?? null, notes.downtimes[uuid], nowS);
    return p ? this.#planLines(p, (next) => this.#setNote(notes.downtimes, uuid, next)) : [];
  }

  /**
   * A plan's lines, each committing what Nagios knows once written: a two-line plan removes ours
   * first (a partial write leaves nothing of ours), its last line sets the new note; a plan without
   * lines only forgets.
   */
  #planLines<T>(p: Plan<T>, set: (next: T | null) => void): PendingLine[] {
    if (!p.lines.length) {
      set(p.next);
      return [];
    }
    return p.lines.map((line, i) => ({
      line,
      commit: i === p.lines.length - 1 ? () => set(p.next) : () => set(null),
    }));
  }

  #setNote<T>(table: Record<string, T>, key: string, next: T | null): void {
    if (next === null) {
      if (!(key in table)) return;
      delete table[key];
    } else table[key] = next;
    this.#notesDirty = true;
  }

  #notesOf(): Notes {
    return this.#notes ??= loadNotes(this.#ctx.store.dir, (msg) => this.#ctx.log.error(`shinken: ${msg}`));
  }

  #saveNotes(): void {
    if (!this.#notesDirty || !this.#notes) return;
    this.#notesDirty = false;
    try {
      saveNotes(this.#ctx.store.dir, this.#notes);
    } catch (err) {
      this.#ctx.log.error(`shinken: cannot save what Nagios was told: ${(err as Error).message}`);
    }
  }

  /** False (logged once) for a record whose uuid is not a safe host name: it is not exported. */
  #safe(m: MemberRecord): boolean {
    if (safeHostName(m.uuid)) return true;
    if (!this.#badNames.has(m.uuid) && this.#badNames.size < 100) {
      this.#badNames.add(m.uuid);
      this.#ctx.log.warn(
        `shinken: node ${JSON.stringify(m.name)} not exported: uuid ${JSON.stringify(m.uuid)}`,
      );
    }
    return false;
  }

  #serviceLine(host: string, service: string, stateId: number, output: string): PendingLine {
    const rc = stateId >= 0 && stateId <= 3 ? stateId : 3;
    const line = serviceResultLine(Math.floor(this.#ctx.clock.now() / 1000), host, service, rc, output);
    return { line, remember: [host, service, stateId] };
  }

  #push(pending: PendingLine[]): void {
    const file = this.#cfg.external_command_file;
    if (!file) return;
    if (!pending.length) return this.#saveNotes(); // a plan that only forgot
    const r = pushLines(file, pending.map((p) => p.line));
    // Only what was written counts as known to the monitoring tool; dropped states go again later.
    for (const p of pending.slice(0, r.written)) {
      if (p.remember) {
        const [host, service, stateId] = p.remember;
        let states = this.#pushed.get(host);
        if (!states) this.#pushed.set(host, states = new Map());
        states.set(service, stateId);
      }
      p.commit?.();
    }
    this.#saveNotes();
    this.stats.lines += r.written;
    // a resync follows dropped lines, later each time while the pipe keeps refusing them
    if (!r.dropped) this.#resyncDelay = RESYNC_FIRST_MS;
    else this.#armResync();
    if (r.dropped) {
      this.stats.dropped += r.dropped;
      this.#ctx.counters.inc("shinken_command_lines_dropped_total", { reason: r.reason }, r.dropped);
      this.#ctx.log.debug(`shinken: ${r.dropped} command line(s) dropped (${file}: ${r.reason})`);
    }
  }
}
