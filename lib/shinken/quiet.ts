/**
 * Node maintenance and check silences as Nagios knows them: a fixed host downtime per node in
 * maintenance (SCHEDULE_HOST_DOWNTIME, removed by DEL_DOWNTIME_BY_HOST_NAME when it ends early) and an
 * acknowledgement per silenced check of ours in a problem state (ACKNOWLEDGE_SVC_PROBLEM, removed by
 * REMOVE_SVC_ACKNOWLEDGEMENT). The plans are pure: what Nagios was told (remembered) and what holds
 * now in, the lines to write and what Nagios will have been told out.
 *
 * What was told is kept in `<data>/shinken-notes.json`, so an agent restart tells nothing twice.
 *
 * ```ts
 * const p = planDowntime(host, member.maintenance ?? null, notes.downtimes[host], nowS);
 * if (p) push(p.lines).then(() => notes.downtimes[host] = p.next);
 * ```
 */
import { join } from "node:path";
import type { Maintenance } from "../types.ts";
import { readIfExists, writeAtomic } from "../fs/mod.ts";
import {
  ackServiceLine,
  cmdField,
  delHostDowntimeLine,
  hostDowntimeLine,
  removeAckLine,
} from "./cfg_render.ts";

/** End of the downtime of a maintenance without `until` (kunai's longest `--for`), in seconds. */
export const OPEN_DOWNTIME_S = 366 * 86_400;

/** A downtime kunai scheduled: the maintenance it stands for and what was sent. */
export interface DowntimeNote {
  /** `since|until|reason` of the maintenance. */
  sig: string;
  start: number;
  end: number;
  comment: string;
}

/** An acknowledgement kunai set on one of our services. */
export interface AckNote {
  comment: string;
  /** When the silence ends (epoch ms), null: until OK. */
  until: number | null;
}

export interface Plan<T> {
  lines: string[];
  /** What Nagios knows once the lines are written (null: nothing of ours). */
  next: T | null;
}

function maintenanceSig(m: Maintenance): string {
  return `${m.since}|${m.until}|${m.reason}`;
}

/** The downtime comment of a maintenance (safe on a command line; the delete matches it exactly). */
export function downtimeComment(m: Maintenance): string {
  return cmdField(m.reason ? `kunai maintenance: ${m.reason}` : "kunai maintenance", 1000);
}

/**
 * The lines that bring the host's downtime in line with its maintenance (null: none needed).
 * Start is the maintenance's start, end its `until`, or start + 366 d without one (a new downtime
 * from now when that passed). A maintenance whose end passed schedules nothing (Nagios refuses it);
 * a downtime whose end passed is Nagios' own business (it ended there), so it is only forgotten.
 */
export function planDowntime(
  host: string,
  m: Maintenance | null,
  have: DowntimeNote | undefined,
  nowS: number,
): Plan<DowntimeNote> | null {
  const live = have && have.end > nowS ? have : undefined;
  if (!m) {
    if (!have) return null;
    return { lines: live ? [delHostDowntimeLine(nowS, host, live.start, live.comment)] : [], next: null };
  }
  const sig = maintenanceSig(m);
  if (live && live.sig === sig) return null;
  const lines = live ? [delHostDowntimeLine(nowS, host, live.start, live.comment)] : [];
  let start = Math.floor(m.since / 1000);
  let end = m.until === null ? start + OPEN_DOWNTIME_S : Math.floor(m.until / 1000);
  if (m.until === null && end <= nowS) [start, end] = [nowS, nowS + OPEN_DOWNTIME_S];
  if (end <= nowS || start >= end) return lines.length || have ? { lines, next: null } : null;
  const comment = downtimeComment(m);
  lines.push(hostDowntimeLine(nowS, host, start, end, comment));
  return { lines, next: { sig, start, end, comment } };
}

/** The acknowledgement comment of a silence. */
export function ackComment(s: { reason: string; until: number | null }): string {
  const until = s.until === null ? "until OK" : `until ${new Date(s.until).toISOString().slice(0, 19)}Z`;
  return cmdField(`kunai silence (${until})${s.reason ? `: ${s.reason}` : ""}`, 1000);
}

/**
 * The lines that bring a service's acknowledgement in line with its silence, given the state Nagios
 * was last told (`nagiosState`, undefined: none yet). An ack needs a problem state (Nagios ignores
 * one on an OK service), so callers write the result line first. An OK result removes the ack in
 * Nagios by itself: `have` is then only forgotten.
 */
export function planAck(
  host: string,
  service: string,
  silenced: { reason: string; until: number | null } | null | undefined,
  nagiosState: number | undefined,
  have: AckNote | undefined,
  nowS: number,
): Plan<AckNote> | null {
  if (nagiosState === 0) return have ? { lines: [], next: null } : null;
  const want = silenced && nagiosState !== undefined
    ? { comment: ackComment(silenced), until: silenced.until }
    : null;
  if (!want) return have ? { lines: [removeAckLine(nowS, host, service)], next: null } : null;
  if (have && have.comment === want.comment) return null;
  const lines = have ? [removeAckLine(nowS, host, service)] : [];
  lines.push(ackServiceLine(nowS, host, service, want.comment));
  return { lines, next: want };
}

/** What Nagios was told, by host uuid (downtimes) and by service of ours (acknowledgements). */
export interface Notes {
  downtimes: Record<string, DowntimeNote>;
  acks: Record<string, AckNote>;
}

const NOTES_FILE = "shinken-notes.json";

/**
 * The notes saved under `dataDir` (empty when none, or `dataDir` is ":memory:"). A file that cannot
 * be read or parsed gives none too, said through `warn`: the downtimes and acknowledgements it named
 * are then never taken back in Nagios (the next save replaces it; a damaged one is first kept as
 * `<file>.damaged`).
 */
export function loadNotes(dataDir: string, warn: (msg: string) => void = () => {}): Notes {
  const empty: Notes = { downtimes: {}, acks: {} };
  if (!dataDir || dataDir === ":memory:") return empty;
  const file = join(dataDir, NOTES_FILE);
  let text: string | null;
  try {
    text = readIfExists(file);
  } catch (err) {
    warn(
      `cannot read ${file} (${(err as Error).message}): what Nagios was told is forgotten; ` +
        "its downtimes and acknowledgements from kunai must be removed there by hand",
    );
    return empty;
  }
  try {
    const o = JSON.parse(text ?? "null") as Partial<Notes> | null;
    if (!o || typeof o !== "object") return empty;
    const downtimes: Notes["downtimes"] = {}, acks: Notes["acks"] = {};
    for (const [k, v] of Object.entries(o.downtimes ?? {})) {
      if (
        typeof v?.sig === "string" && Number.isInteger(v.start) && Number.isInteger(v.end) &&
        typeof v.comment === "string"
      ) downtimes[k] = { sig: v.sig, start: v.start, end: v.end, comment: v.comment };
    }
    for (const [k, v] of Object.entries(o.acks ?? {})) {
      if (typeof v?.comment === "string" && (v.until === null || typeof v.until === "number")) {
        acks[k] = { comment: v.comment, until: v.until };
      }
    }
    return { downtimes, acks };
  } catch (err) {
    let kept = "";
    try {
      Deno.renameSync(file, `${file}.damaged`);
      kept = ` (kept as ${file}.damaged)`;
    } catch { /* said without it */ }
    warn(
      `${file} is damaged${kept}: ${(err as Error).message}; what Nagios was told is forgotten: ` +
        "its downtimes and acknowledgements from kunai must be removed there by hand",
    );
    return empty;
  }
}

/** Saves the notes (atomically); no-op for ":memory:". */
export function saveNotes(dataDir: string, notes: Notes): void {
  if (!dataDir || dataDir === ":memory:") return;
  // on disk before the rename: an empty file after a power loss would forget what Nagios was told
  writeAtomic(join(dataDir, NOTES_FILE), JSON.stringify(notes), { mode: 0o600, fsync: true });
}
