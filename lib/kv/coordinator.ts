/**
 * The owner's side of a write: serialise per key, check CAS, stamp a fresh index, replicate to the
 * other owners and answer once `kv.write_acks` copies (ours included) acknowledged. Replicas that
 * do not answer get a hint (retried by repair.ts).
 *
 * CAS writes ask every replica to confirm that it holds nothing newer than our base version before
 * we apply: a replica that saw a write we missed (failover, partition) refuses, we adopt its record
 * (unless it may be a rival's undecided one, see #casFanout) and answer false. Replicas store
 * nothing at the check (`checkOnly`); the record goes out once every one agreed, like a plain write
 * (hinted where it does not arrive). Stored at the check, a refused CAS's copy outlived a lost undo
 * and, its index the newest, won on every copy over the write it lost to. From its check until it is stored, a CAS
 * is registered on the local replica, which refuses (`busy`) any other coordinator's CAS of the same
 * key meanwhile: two owners coordinating at once (forwarders that disagree on which owner is
 * reachable) both give way instead of both succeeding on each other's acknowledgement.
 */
import type { Logger } from "../log/mod.ts";
import type { Clock } from "../clock/mod.ts";
import { KvError } from "./keys.ts";
import type { WriteRequest, WriteResult } from "./api.ts";
import type { LocalReplica } from "./local.ts";
import type { Placement } from "./placement.ts";
import { type ApplyItem, type ApplyResult, PeerRefused, PeerUnreachable } from "./peers.ts";
import {
  compareRecords,
  expiredTombstone,
  isLive,
  type KvRecord,
  seenIndex,
  stampedRecord,
  type Version,
} from "./record.ts";
import type { RingNode } from "./ring.ts";
import { checkRecord, type Limits } from "./validate.ts";
import { KeyLocks } from "./watch.ts";

interface Fanout {
  ok: RingNode[];
  conflicts: KvRecord[];
  /** Replicas that refused because they coordinate a CAS of the same key themselves. */
  busy: RingNode[];
  errors: string[];
}

export interface CoordinatorDeps {
  local: LocalReplica;
  placement: Placement;
  /** How records reach the other owners. */
  replicate(peer: RingNode, item: ApplyItem, deadline?: number): Promise<ApplyResult>;
  clock: Clock;
  log: Logger;
  cfg: Limits & { write_acks: number };
}

/** Coordinates the writes of the keys this node owns. */
export class Coordinator {
  #d: CoordinatorDeps;
  #locks = new KeyLocks();
  #count = 0;

  constructor(deps: CoordinatorDeps) {
    this.#d = deps;
  }

  /** Writes coordinated here (for info()). */
  get count(): number {
    return this.#count;
  }

  /** Coordinates `w` (already validated) before `deadline`; writes to one key never interleave. */
  write(w: WriteRequest, deadline: number): Promise<WriteResult> {
    this.#count++;
    return this.#locks.run(w.key, () => this.#coordinate(w, deadline));
  }

  async #coordinate(w: WriteRequest, deadline: number): Promise<WriteResult> {
    const { local, placement, clock, cfg } = this.#d;
    const now = clock.now();
    let cur = local.storage.getRecord(w.key);
    if (cur && !cur.deleted && cur.expires > 0 && cur.expires <= now) {
      cur = expiredTombstone(cur);
      local.apply(cur);
    }
    if (w.cas !== undefined) {
      const curIdx = isLive(cur, now) ? cur.modify_index : 0;
      if (curIdx !== w.cas) return { ok: false, index: cur ? seenIndex(cur) : local.currentIndex() };
      // this copy granted another owner's CAS of the key, which may still be stored: give way
      if (local.casGranted(w.key)) return { ok: false, index: cur ? seenIndex(cur) : local.currentIndex() };
    }
    const rec = stampedRecord(w, {
      modify_index: local.nextIndex(),
      origin: placement.self.uuid,
      modify_time: now,
      expires: w.op === "put" && w.ttlMs ? Math.floor(now + w.ttlMs) : 0,
    });
    const owners = placement.owners(w.key);
    const need = Math.max(1, Math.min(cfg.write_acks, owners.length));
    // the forwarder owns a copy: it stores the record from our answer, so it is not a target
    const carried = w.cas === undefined && w.carry !== undefined && owners.some((o) => o.uuid === w.carry);
    const targets = owners.filter((o) => !placement.isSelf(o) && !(carried && o.uuid === w.carry));

    if (carried) {
      const stored = local.applyGrouped(rec);
      stored.catch(() => {});
      // the forwarder's copy counts: wait for need - 2 more (usually none; late ones still get hints)
      const f = await this.#fanout(targets, { record: rec }, need - 2, deadline);
      await stored;
      return { ok: true, index: rec.modify_index, record: rec, copies: 1 + f.ok.length, need };
    }

    if (w.cas === undefined) {
      const stored = local.applyGrouped(rec);
      stored.catch(() => {}); // awaited below; keeps an early failure from being "unhandled"
      const f = await this.#fanout(targets, { record: rec }, need - 1, deadline);
      await stored;
      if (1 + f.ok.length < need) {
        throw new KvError(
          503,
          `write stored on ${1 + f.ok.length} of the ${need} copies required (kv.write_acks): ${
            f.errors.join("; ")
          }`,
        );
      }
      return { ok: true, index: rec.modify_index };
    }

    const base: Version | null = cur ? { modify_index: cur.modify_index, origin: cur.origin } : null;
    // from the check (above, same tick) until stored: a rival coordinator's CAS of this key is refused here
    local.beginCas(rec);
    try {
      return await this.#casFanout(rec, cur, base, targets, need, deadline);
    } finally {
      local.endCas(rec);
    }
  }

  async #casFanout(
    rec: KvRecord,
    cur: KvRecord | null,
    base: Version | null,
    targets: RingNode[],
    need: number,
    deadline: number,
  ): Promise<WriteResult> {
    const { local, clock, cfg } = this.#d;
    // every replica that answers is heard (one holding a newer version refuses), one that does not is
    // waited for half the time left: the record still has the other half to reach its copies
    const now = clock.now();
    const f = await this.#fanout(
      targets,
      { record: rec, prev: base, checkOnly: true, grantMs: Math.max(0, deadline - now) },
      targets.length,
      now + Math.max(0, deadline - now) / 2,
    );
    if (f.conflicts.length || f.busy.length || 1 + f.ok.length < need) {
      // a replica that agreed stored nothing, unless it is an agent from before checkOnly
      this.#undo(f.ok, rec, cur);
      if (f.conflicts.length) {
        const newest = f.conflicts.reduce((a, b) => compareRecords(a, b) >= 0 ? a : b);
        // Adopted only when it may be decided. A rival coordinator (owners racing on a CAS of this
        // key: forwarders disagree on who is reachable) that answered busy is still deciding, and
        // one that accepted our copy does not hold its own record: it gave way, and its undo is on
        // its way to the copy we saw. Not adopting is always safe: anti-entropy brings what stays.
        const undecided = f.busy.length > 0 || f.ok.some((t) => t.uuid === newest.origin);
        if (!undecided) local.apply(checkRecord(newest, cfg, clock.now()));
        return { ok: false, index: seenIndex(newest) };
      }
      // another owner coordinates a CAS of this key at the same moment: both give way, the clients
      // read and retry
      if (f.busy.length) return { ok: false, index: cur ? seenIndex(cur) : local.currentIndex() };
      throw new KvError(
        503,
        `compare-and-set reached ${1 + f.ok.length} of the ${need} copies required (kv.write_acks): ${
          f.errors.join("; ")
        }`,
      );
    }
    // decided: stored like a plain write (the replicas that agreed accept it, the others get a hint)
    const stored = local.applyGrouped(rec);
    stored.catch(() => {});
    const copies = await this.#fanout(targets, { record: rec }, need - 1, deadline);
    await stored;
    if (1 + copies.ok.length < need) {
      throw new KvError(
        503,
        `outcome unknown: the compare-and-set of key ${JSON.stringify(rec.key)} was granted but stored on ${
          1 + copies.ok.length
        } of the ${need} copies required (kv.write_acks): ${copies.errors.join("; ")}`,
      );
    }
    return { ok: true, index: rec.modify_index };
  }

  /** Puts back `base` (or drops the key) on replicas that accepted a refused CAS write. */
  #undo(accepted: RingNode[], rec: KvRecord, base: KvRecord | null): void {
    const item: ApplyItem = base
      ? { record: base, replaceIf: { modify_index: rec.modify_index, origin: rec.origin } }
      : { record: rec, replaceIf: { modify_index: rec.modify_index, origin: rec.origin }, drop: true };
    for (const t of accepted) {
      this.#d.replicate(t, item).catch((err) =>
        this.#d.log.warn(`cas undo on ${t.name} failed: ${err.message}`)
      );
    }
  }

  /**
   * Sends `item` to every target; resolves once `wanted` accepted (or everyone answered). Late
   * failures still leave a hint for the repair loop.
   */
  #fanout(targets: RingNode[], item: ApplyItem, wanted: number, deadline: number): Promise<Fanout> {
    const out: Fanout = { ok: [], conflicts: [], busy: [], errors: [] };
    if (!targets.length) return Promise.resolve(out);
    return new Promise((resolve) => {
      let settled = 0, done = false;
      const finish = () => {
        if (!done && (out.ok.length >= wanted || settled === targets.length)) {
          done = true;
          resolve(out);
        }
      };
      if (wanted <= 0) finish();
      // one reaction per target (no .finally: a promise less per replicated copy)
      for (const t of targets) {
        this.#d.replicate(t, item, deadline).then((r) => {
          if (r.ok) out.ok.push(t);
          else if ("busy" in r) out.busy.push(t);
          else out.conflicts.push(r.current);
          settled++;
          finish();
        }, (err: Error) => {
          out.errors.push(err.message);
          if (err instanceof PeerUnreachable || err instanceof PeerRefused) this.#hint(t, item.record.key);
          else this.#d.log.warn(`replication to ${t.name} failed: ${err.message}`);
          settled++;
          finish();
        });
      }
    });
  }

  #hint(t: RingNode, key: string): void {
    // in the next group commit: while a replica is down every write leaves a hint, and one
    // transaction each (a WAL commit per write) slowed the survivors exactly when they had to cope
    this.#d.local.inGroupCommit(() => this.#d.local.storage.hints.addHint(t.uuid, key)).catch((err) =>
      this.#d.log.warn(`hint for ${t.name} not stored: ${(err as Error).message}`)
    );
  }
}
