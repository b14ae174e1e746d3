/**
 * Keeping copies right after failures: hinted handoff (retry writes a replica missed), anti-entropy
 * (pull what changed on each peer since our last mark, so a restarted node converges), handover
 * when the ring changes (push keys to their new owners, drop copies we no longer hold) and the TTL
 * and tombstone sweeps.
 */
import type { KvNode } from "./kv.ts";
import { PeerRefused, PeerUnreachable } from "./peers.ts";
import { compareVersion, type KvRecord } from "./record.ts";
import type { VersionEntry } from "./replica.ts";
import type { Ring, RingNode } from "./ring.ts";

const HINT_BATCH = 256;
const PULL_LIMIT = 500;
const SCAN_BATCH = 500;

export class Repair {
  #node: KvNode;
  #busy = new Set<string>();
  #handoverDue = false;
  /** The ring of the last complete handover: owners on it already hold their keys. */
  #base: Ring | null = null;
  #stopped = false;
  /** Counters for info(). */
  stats = { hints_delivered: 0, pulled: 0, pushed: 0, dropped: 0, expired: 0, purged: 0, rounds: 0 };

  constructor(node: KvNode) {
    this.#node = node;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Runs `fn` unless a run of the same job is in flight; errors are logged, never thrown. */
  async #once(name: string, fn: () => Promise<void>): Promise<void> {
    if (this.#busy.has(name) || this.#stopped) return;
    this.#busy.add(name);
    try {
      await fn();
    } catch (err) {
      if (!this.#stopped) this.#node.log.warn(`kv ${name} failed: ${(err as Error).message}`);
    } finally {
      this.#busy.delete(name);
    }
  }

  /** Delivers stored hints to the replicas that missed writes. */
  deliverHints(): Promise<void> {
    return this.#once("hints", async () => {
      const node = this.#node;
      const nodes = new Map(node.holders().map((n) => [n.uuid, n]));
      for (const target of node.storage.hintTargets()) {
        const peer = nodes.get(target);
        // off the ring: handover gives its ranges to someone else
        if (!peer) {
          node.storage.dropHintsFor(target);
          continue;
        }
        while (!this.#stopped) {
          const keys = node.storage.hintsFor(target, HINT_BATCH);
          if (!keys.length) break;
          const recs = keys.map((k) => node.storage.getRecord(k)).filter((r): r is KvRecord => !!r);
          try {
            await Promise.all(recs.map((r) => node.peers.replicate(peer, { record: r })));
          } catch (err) {
            if (err instanceof PeerUnreachable || err instanceof PeerRefused) break;
            throw err;
          }
          node.storage.removeHints(target, keys);
          this.stats.hints_delivered += keys.length;
        }
      }
    });
  }

  /** Pulls from every other holder what changed since our mark for keys we should hold. */
  antiEntropy(): Promise<void> {
    return this.#once("anti-entropy", async () => {
      const node = this.#node;
      this.stats.rounds++;
      if (this.#handoverDue) await this.handover();
      // not a kv node: we hold nothing (handover emptied us)
      if (!node.holders().some((n) => n.uuid === node.self.uuid)) return;
      const peers = node.holders().filter((n) => n.uuid !== node.self.uuid);
      let reached = 0;
      await Promise.all(peers.map((p) =>
        this.#pullFrom(p).then(() => reached++, (err) => {
          if (!(err instanceof PeerUnreachable)) {
            node.log.debug(`anti-entropy with ${p.name}: ${err.message}`);
          }
        })
      ));
      if (reached) node.syncing = false;
    });
  }

  /**
   * Asks `peer` for the versions (not the values) it applied since our mark, then reads only the
   * keys where it holds something newer than we do: replicated writes we already have cost a few
   * bytes, not their values again.
   */
  async #pullFrom(peer: RingNode): Promise<void> {
    const node = this.#node;
    const mark = node.storage.mark(peer.uuid) ?? { epoch: "", seq: 0 };
    let { epoch, seq } = mark;
    for (let round = 0; round < 1000 && !this.#stopped; round++) {
      const q = new URLSearchParams({
        since: String(seq),
        epoch,
        for: node.self.uuid,
        limit: String(PULL_LIMIT),
      });
      const ans = await node.peers.request<
        { epoch: string; versions: VersionEntry[]; last_seq: number; more: boolean }
      >(
        peer,
        "GET",
        `/kv-internal/changed?${q}`,
      );
      const missing = ans.versions.filter((v) => {
        const cur = node.storage.getRecord(v.key);
        return !cur || compareVersion(cur, v) < 0;
      });
      const got = await Promise.all(missing.map((v) => node.peers.read(peer, v.key)));
      for (const g of got) if (g.record && node.applyLocal(g.record)) this.stats.pulled++;
      epoch = ans.epoch;
      seq = ans.last_seq;
      node.storage.setMark(peer.uuid, epoch, seq);
      if (!ans.more) break;
    }
  }

  /** The ring changed: hand keys to their new owners (soon, batched with the next round). */
  ringChanged(before: Ring, _after: Ring): void {
    this.#base ??= before;
    this.#handoverDue = true;
  }

  /**
   * Pushes every key we hold to the owners that were not owners on the ring of the last complete
   * handover (the others got it by replication; a push they do not need is a no-op) and drops keys
   * we no longer own once every new owner has them.
   */
  handover(): Promise<void> {
    return this.#once("handover", async () => {
      const node = this.#node;
      this.#handoverDue = false;
      const base = this.#base;
      this.#base = null;
      const ownersOn = (ring: Ring | null, key: string): readonly RingNode[] =>
        ring && ring.nodes.length ? ring.owners(key, node.cfg.replicas) : [node.self];
      let after = "";
      let failed = false;
      while (!this.#stopped) {
        const batch = node.storage.scanAfter(after, SCAN_BATCH);
        if (!batch.length) break;
        after = batch[batch.length - 1].key;
        await Promise.all(batch.map(async (rec) => {
          const owners = node.owners(rec.key);
          const mine = owners.some((o) => o.uuid === node.self.uuid);
          const had = new Set(ownersOn(base, rec.key).map((o) => o.uuid));
          const others = owners.filter((o) => o.uuid !== node.self.uuid && (!base || !had.has(o.uuid)));
          // owners that hold the key already answer the push as a no-op
          const results = await Promise.allSettled(
            others.map((o) => node.peers.replicate(o, { record: rec })),
          );
          const allOk = results.every((r) => r.status === "fulfilled");
          this.stats.pushed += results.filter((r) => r.status === "fulfilled").length;
          if (!allOk) failed = true;
          if (!mine && allOk && owners.length && node.storage.dropIfUnchanged(rec)) this.stats.dropped++;
        }));
      }
      if (failed) {
        this.#base = base; // the older ring asks for more pushes, never fewer
        this.#handoverDue = true;
      }
    });
  }

  /** Turns expired values into tombstones and forgets old tombstones. */
  sweep(purge: boolean): void {
    const node = this.#node;
    const now = node.clock.now();
    for (const t of node.storage.expire(now)) {
      this.stats.expired++;
      node.changed(t);
    }
    if (purge) this.stats.purged += node.storage.purgeTombstones(now - node.cfg.tombstone_ttl);
  }
}
