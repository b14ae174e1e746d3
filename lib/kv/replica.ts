/**
 * The replica's side: apply replicated records (with the CAS and rollback conditions of
 * coordinator.ts) and answer anti-entropy pulls ("what changed since your mark that I hold a copy
 * of and you should too").
 */
import type { LocalReplica } from "./local.ts";
import type { Placement } from "./placement.ts";
import type { ApplyItem, ApplyResult } from "./peers.ts";
import { compareVersion, type KvRecord } from "./record.ts";

/** Applies a batch (records already validated) in the next group commit; one result per item. */
export async function applyItems(local: LocalReplica, items: ApplyItem[]): Promise<ApplyResult[]> {
  const changed: KvRecord[] = [];
  const storage = local.storage;
  const results = await local.inGroupCommit(() =>
    items.map((item): ApplyResult => {
      const rec = item.record;
      if (item.replaceIf) {
        const cur = storage.getRecord(rec.key);
        if (cur && compareVersion(cur, item.replaceIf) === 0) {
          if (item.drop) storage.dropIfUnchanged(cur);
          else storage.replace(rec);
          changed.push(item.drop ? { ...cur, deleted: true } : rec);
        }
        local.releaseCas(rec.key, item.replaceIf); // a refused CAS's undo: its check is given up
        return { ok: true };
      }
      if (item.prev !== undefined) {
        const cur = storage.getRecord(rec.key);
        const newerThanBase = cur && (item.prev === null || compareVersion(cur, item.prev) > 0);
        if (newerThanBase && compareVersion(cur, rec) !== 0) return { ok: false, current: cur };
        // our own CAS of this key is in flight: accepting theirs would let both succeed
        const mine = local.casInFlight(rec.key);
        if (mine && compareVersion(mine, rec) !== 0) return { ok: false, busy: true };
        // another coordinator's CAS of this key was granted here and may still be stored
        const granted = local.casGranted(rec.key);
        if (granted && compareVersion(granted, rec) !== 0) return { ok: false, busy: true };
        if (item.checkOnly) {
          return local.grantCas(rec, item.grantMs ?? 0) ? { ok: true } : { ok: false, busy: true };
        }
      }
      if (storage.merge(rec)) changed.push(rec);
      local.releaseCas(rec.key, rec);
      return { ok: true };
    })
  );
  local.countReplicated(items.length);
  for (const r of changed) local.changed(r);
  return results;
}

/** A key and the version a peer holds (anti-entropy compares these before moving values). */
export interface VersionEntry {
  key: string;
  modify_index: number;
  origin: string;
}

export interface ChangedAnswer {
  epoch: string;
  versions: VersionEntry[];
  /** Sequence to ask from next time. */
  last_seq: number;
  more: boolean;
}

/**
 * Records applied here after `since` whose owners (on our ring) include `forUuid`. When the
 * asker's `epoch` is not ours (our database was replaced), starts from 0. Null when the asker is not
 * on our ring.
 */
export function changedFor(
  local: LocalReplica,
  placement: Placement,
  since: number,
  epoch: string,
  forUuid: string,
  limit: number,
): ChangedAnswer | null {
  // an asker we do not see on the ring would get nothing yet move its mark past these records
  if (!placement.holders().some((n) => n.uuid === forUuid)) return null;
  const storage = local.storage;
  const from = epoch === storage.epoch ? since : 0;
  const rows = storage.changedSince(from, limit);
  const versions = rows
    .filter((r) => placement.owners(r.key).some((o) => o.uuid === forUuid))
    .map((r) => ({ key: r.key, modify_index: r.modify_index, origin: r.origin }));
  return {
    epoch: storage.epoch,
    versions,
    last_seq: rows.length ? rows[rows.length - 1].seq : from,
    more: rows.length === limit,
  };
}
