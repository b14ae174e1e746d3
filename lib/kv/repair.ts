/**
 * Keeping copies right after failures: hinted handoff (retry writes a replica missed), anti-entropy
 * (pull what changed on each peer since our last mark, so a restarted node converges), handover
 * when the ring changes (push keys to their new owners, drop copies we no longer hold) and the TTL
 * and tombstone sweeps.
 */
import { setImmediate } from "node:timers";
import type { Clock, TimerId } from "../clock/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { LocalReplica } from "./local.ts";
import type { Placement } from "./placement.ts";
import { type PeerClient, PeerRefused, PeerUnreachable } from "./peers.ts";
import { compareVersion, type KvRecord } from "./record.ts";
import type { ChangedAnswer } from "./replica.ts";
import type { Ring, RingNode } from "./ring.ts";
import { checkRecord, type Limits } from "./validate.ts";

const HINT_BATCH = 256;
const PULL_LIMIT = 200;
/**
 * Pause between two pages of a pull that found nothing to repair. Under a steady write load every
 * periodic round pages through each key written since the last mark (all of them are already here,
 * replicated); the three nodes' rounds fell together and, as one burst of paging on both sides,
 * doubled the cluster's write p99 at 64 clients (35 -> 49-60 ms). Spread out, the same work is a few
 * milliseconds at a time. A page that found missing records goes on at once (a restarted node).
 */
export const IDLE_PAGE_GAP_MS = 20;
/** Keys per handover step: each step is synchronous work (placement of every key), kept short. */
const SCAN_BATCH = 100;

export interface RepairDeps {
  local: LocalReplica;
  placement: Placement;
  peers: Pick<PeerClient, "replicate" | "read" | "call">;
  clock: Clock;
  log: Logger;
  cfg: Limits & { tombstone_ttl: number };
}

export class Repair {
  #d: RepairDeps;
  #busy = new Set<string>();
  #handoverDue = false;
  /**
   * The rings in effect since the last complete handover, oldest first: a node that owned a key on
   * every one of them got its writes by replication. One that was an owner on the first only did
   * not get those made while a ring in between left it out (a node cut off that acked writes alone).
   * Past MAX_BASES rings, every owner gets every key (null).
   */
  #bases: Ring[] | null = [];
  #stopped = false;
  /** Pauses between pages in flight (ended at once by stop()). */
  #pauses = new Map<TimerId, () => void>();
  #stats = {
    hints_delivered: 0,
    pulled: 0,
    pushed: 0,
    dropped: 0,
    expired: 0,
    purged: 0,
    rounds: 0,
    refused: 0,
    /** Hint batches a peer refused (a key mismatch, its disk full): they stay, retried later. */
    hints_refused: 0,
  };
  /** When a refusal of hints by each peer was last logged (once a minute at most per peer). */
  #hintRefusalSaid = new Map<string, number>();

  constructor(deps: RepairDeps) {
    this.#d = deps;
  }

  /** Counters for info(). */
  stats(): Record<string, number> {
    return { ...this.#stats };
  }

  stop(): void {
    this.#stopped = true;
    for (const [t, done] of this.#pauses) {
      this.#d.clock.clearTimeout(t);
      done();
    }
    this.#pauses.clear();
  }

  /** Waits `ms` on the clock, or until stop(). */
  #pause(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = this.#d.clock.setTimeout(() => {
        this.#pauses.delete(t);
        resolve();
      }, ms);
      this.#pauses.set(t, resolve);
    });
  }

  /** Runs `fn` unless a run of the same job is in flight; errors are logged, never thrown. */
  async #once(name: string, fn: () => Promise<void>): Promise<void> {
    if (this.#busy.has(name) || this.#stopped) return;
    this.#busy.add(name);
    try {
      await fn();
    } catch (err) {
      if (!this.#stopped) this.#d.log.warn(`kv ${name} failed: ${(err as Error).message}`);
    } finally {
      this.#busy.delete(name);
    }
  }

  /** Delivers stored hints to the replicas that missed writes. */
  deliverHints(): Promise<void> {
    return this.#once("hints", async () => {
      const { local, placement, peers } = this.#d;
      const storage = local.storage;
      const nodes = new Map(placement.holders().map((n) => [n.uuid, n]));
      for (const target of storage.hints.hintTargets()) {
        const peer = nodes.get(target);
        // off the ring: handover gives its ranges to someone else
        if (!peer) {
          storage.hints.dropHintsFor(target);
          continue;
        }
        while (!this.#stopped) {
          const keys = storage.hints.hintsFor(target, HINT_BATCH);
          if (!keys.length) break;
          const sent = keys.map((k) => storage.getRecord(k));
          const recs = sent.filter((r): r is KvRecord => !!r);
          try {
            await Promise.all(recs.map((r) => peers.replicate(peer, { record: r }, undefined, "repair")));
          } catch (err) {
            if (err instanceof PeerRefused) {
              // unlike a node that is down, a refusal will not go away by itself: said, counted
              this.#stats.hints_refused++;
              const now = this.#d.clock.now(), last = this.#hintRefusalSaid.get(target) ?? -Infinity;
              if (now - last >= 60_000) {
                this.#hintRefusalSaid.set(target, now);
                this.#d.log.warn(
                  `kv: ${peer.name || target} refuses the writes it missed (${err.message}); ` +
                    "they stay hinted and are offered again (kv.repair.hints_refused counts refusals)",
                );
              }
              break;
            }
            if (err instanceof PeerUnreachable) break;
            throw err;
          }
          // a newer write that missed the target meanwhile found its hint already there: that key
          // stays hinted (its newer record goes next time)
          const done = keys.filter((k, i) => sameVersion(sent[i], storage.getRecord(k)));
          storage.hints.removeHints(target, done);
          this.#stats.hints_delivered += done.length;
          if (done.length < keys.length) break;
        }
      }
    });
  }

  /** Pulls from every other holder what changed since our mark for keys we should hold. */
  antiEntropy(): Promise<void> {
    return this.#once("anti-entropy", async () => {
      const { local, placement, log } = this.#d;
      this.#stats.rounds++;
      if (this.#handoverDue) await this.handover();
      // not a kv node: we hold nothing (handover emptied us)
      if (!placement.holders().some((n) => placement.isSelf(n))) return;
      const peers = placement.holders().filter((n) => !placement.isSelf(n));
      let reached = 0;
      await Promise.all(peers.map((p) =>
        this.#pullFrom(p).then(() => reached++, (err) => {
          // unreachable is routine (a node down); a refusal means a bug or a version mismatch
          if (!(err instanceof PeerUnreachable)) log.warn(`anti-entropy with ${p.name}: ${err.message}`);
        })
      ));
      if (reached) local.markFresh();
    });
  }

  /**
   * Asks `peer` for the versions (not the values) it applied since our mark, then reads only the
   * keys where it holds something newer than we do: replicated writes we already have cost a few
   * bytes, not their values again.
   */
  async #pullFrom(peer: RingNode): Promise<void> {
    const { local, placement, peers, clock, cfg, log } = this.#d;
    const storage = local.storage;
    const mark = storage.marks.mark(peer.uuid) ?? { epoch: "", seq: 0 };
    let { epoch, seq } = mark;
    for (let round = 0; round < 2500 && !this.#stopped; round++) {
      const ans = await peers.call<ChangedAnswer>(peer, "changed", {
        since: seq,
        epoch,
        for: placement.self.uuid,
        limit: PULL_LIMIT,
      });
      if (
        !ans || !Array.isArray(ans.versions) || typeof ans.epoch !== "string" ||
        !Number.isSafeInteger(ans.last_seq)
      ) {
        throw new Error(`malformed changed answer from ${peer.name}`);
      }
      const missing = ans.versions.filter((v) => {
        const cur = storage.getRecord(v.key);
        return !cur || compareVersion(cur, v) < 0;
      });
      const got = await Promise.all(missing.map((v) => peers.read(peer, v.key)));
      for (const g of got) {
        if (!g.record) continue;
        try {
          if (local.apply(checkRecord(g.record, cfg, clock.now()))) this.#stats.pulled++;
        } catch (err) {
          this.#stats.refused++;
          log.warn(`anti-entropy: record from ${peer.name} refused: ${(err as Error).message}`);
        }
      }
      epoch = ans.epoch;
      seq = ans.last_seq;
      storage.marks.setMark(peer.uuid, epoch, seq);
      if (!ans.more) break;
      if (!missing.length) await this.#pause(IDLE_PAGE_GAP_MS);
    }
  }

  /** The ring changed: hand keys to their new owners (soon, batched with the next round). */
  ringChanged(before: Ring, _after: Ring): void {
    if (this.#bases && this.#bases.length < MAX_BASES) this.#bases.push(before);
    else this.#bases = null;
    this.#handoverDue = true;
  }

  /**
   * Pushes every key we hold to the owners that were not owners on every ring since the last
   * complete handover (the others got it by replication; a push they do not need is a no-op) and
   * drops keys we no longer own once every new owner has them.
   */
  handover(): Promise<void> {
    return this.#once("handover", async () => {
      const { local, placement, peers } = this.#d;
      const storage = local.storage;
      this.#handoverDue = false;
      const bases = this.#bases;
      this.#bases = [];
      let after = "";
      let failed = false;
      while (!this.#stopped) {
        const batch = storage.scanAfter(after, SCAN_BATCH);
        if (!batch.length) break;
        after = batch[batch.length - 1].key;
        await Promise.all(batch.map(async (rec) => {
          const owners = placement.owners(rec.key);
          const mine = owners.some((o) => placement.isSelf(o));
          const others = owners.filter((o) =>
            !placement.isSelf(o) && !ownerAll(placement, bases, rec.key, o)
          );
          // owners that hold the key already answer the push as a no-op
          const results = await Promise.allSettled(
            others.map((o) => peers.replicate(o, { record: rec }, undefined, "repair")),
          );
          const allOk = results.every((r) => r.status === "fulfilled");
          this.#stats.pushed += results.filter((r) => r.status === "fulfilled").length;
          if (!allOk) failed = true;
          // the ring may have changed during the pushes: drop only what is still not ours
          const ours = () => placement.owners(rec.key).some((o) => placement.isSelf(o));
          if (!mine && allOk && owners.length && !ours() && storage.dropIfUnchanged(rec)) {
            this.#stats.dropped++;
          }
        }));
        // a batch whose pushes are no-ops resolves within microtasks: without this turn, a ring change
        // over 30 000 keys ran as one ~0.3 s block and held up every live write (the fault run's outage)
        await nextTurn();
      }
      if (failed) {
        // the rings of this attempt ask for more pushes, never fewer
        this.#bases = bases && this.#bases && bases.length + this.#bases.length <= MAX_BASES
          ? [...bases, ...this.#bases]
          : null;
        this.#handoverDue = true;
      }
    });
  }

  /** Turns expired values into tombstones and forgets old tombstones. */
  sweep(purge: boolean): void {
    const { local, clock, cfg } = this.#d;
    const now = clock.now();
    for (const t of local.storage.expire(now)) {
      this.#stats.expired++;
      local.changed(t);
    }
    if (purge) this.#stats.purged += local.storage.purgeTombstones(now - cfg.tombstone_ttl);
  }
}

/** Rings remembered between two handovers (each costs a placement per key at the handover). */
const MAX_BASES = 8;

/** True when `o` owned `key` on every ring of `bases` (none known: false, it gets a push). */
function ownerAll(placement: Placement, bases: Ring[] | null, key: string, o: RingNode): boolean {
  if (!bases?.length) return false;
  return bases.every((r) => placement.ownersOn(r, key).some((x) => x.uuid === o.uuid));
}

/** Resolves on a later event-loop turn (I/O runs first); a deferral, not a delay on the clock. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** True when `b` is the record `a` was (both absent counts: nothing to deliver). */
function sameVersion(a: KvRecord | null | undefined, b: KvRecord | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return compareVersion(a, b) === 0;
}
