/**
 * Repair against writes and ring changes that land while it awaits a peer: hinted handoff must not
 * remove the hint a newer write of the same key found already there (INSERT OR IGNORE), or the newer
 * value would reach the target only at the next anti-entropy round; a handover must not drop a key
 * that became ours again while it was pushed to its new owner.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Repair, type RepairDeps } from "../../lib/kv/repair.ts";
import type { KvRecord } from "../../lib/kv/record.ts";
import { PeerRefused } from "../../lib/kv/transport.ts";

const self = { uuid: "u-self", name: "self", addr: "127.0.0.1", port: 1 };
const peer = { uuid: "u-peer", name: "peer", addr: "127.0.0.1", port: 2 };

const record = (key: string, modify_index: number): KvRecord => ({
  key,
  value: new TextEncoder().encode(`v${modify_index}`),
  flags: 0,
  modify_index,
  origin: self.uuid,
  modify_time: 0,
  expires: 0,
  deleted: false,
});

/** A Repair's dependencies around a set of keys hinted for `peer`. */
function hintDeps(
  hints: Set<string>,
  getRecord: (key: string) => KvRecord | null,
  replicate: (p: unknown, body: { record: KvRecord }) => Promise<unknown>,
  extra: { clock?: VirtualClock; warn?: (m: string) => void } = {},
): RepairDeps {
  return {
    local: {
      storage: {
        hints: {
          hintTargets: () => (hints.size ? [peer.uuid] : []),
          hintsFor: (_t: string, limit: number) => [...hints].slice(0, limit),
          removeHints: (_t: string, keys: string[]) => keys.forEach((k) => hints.delete(k)),
          dropHintsFor: () => hints.clear(),
        },
        getRecord,
      },
    },
    placement: { holders: () => [self, peer], isSelf: (n: { uuid: string }) => n.uuid === self.uuid, self },
    peers: { replicate },
    clock: extra.clock ?? new VirtualClock(1_800_000_000_000),
    log: extra.warn ? { ...silentLogger, warn: extra.warn } : silentLogger,
    cfg: { tombstone_ttl: 86_400_000 },
  } as unknown as RepairDeps;
}

Deno.test("kv hints: a key rewritten while its hint is delivered stays hinted, and its newer record goes next", async () => {
  const records = new Map<string, KvRecord>([["a", record("a", 1)], ["b", record("b", 1)]]);
  const hints = new Set<string>(["a", "b"]); // (target is always `peer`)
  const delivered: Array<[string, number]> = [];
  let rewrite = true;
  const repair = new Repair(hintDeps(hints, (key) => records.get(key) ?? null, async (_p, body) => {
    await new Promise((r) => setTimeout(r, 1));
    delivered.push([body.record.key, body.record.modify_index]);
    if (rewrite && body.record.key === "a") {
      // meanwhile: a client writes "a" again; its replication to the peer fails and hints it,
      // which finds the row there already
      rewrite = false;
      records.set("a", record("a", 2));
      hints.add("a");
    }
    return { ok: true };
  }));
  await repair.deliverHints();
  assert.deepEqual([...hints], ["a"], "the rewritten key keeps its hint");
  assert.equal(repair.stats().hints_delivered, 1);
  await repair.deliverHints();
  assert.deepEqual([...hints], []);
  assert.deepEqual(
    delivered.filter(([k]) => k === "a"),
    [["a", 1], ["a", 2]],
    "the newer record was delivered",
  );
  assert.equal(repair.stats().hints_delivered, 2);
});

Deno.test("kv handover: a key that became ours again while it was pushed to its new owner is kept", async () => {
  const rec = record("k", 1);
  let ring: "away" | "back" = "away"; // the key's owners: only `peer`, then `self` again
  const dropped: string[] = [];
  let scanned = false;
  const deps = {
    local: {
      storage: {
        scanAfter: () => (scanned ? [] : (scanned = true, [rec])),
        dropIfUnchanged: (r: KvRecord) => (dropped.push(r.key), true),
      },
    },
    placement: {
      owners: () => (ring === "away" ? [peer] : [self, peer]),
      ownersOn: () => [self],
      isSelf: (n: { uuid: string }) => n.uuid === self.uuid,
      self,
    },
    peers: {
      replicate: async () => {
        await new Promise((r) => setTimeout(r, 1));
        ring = "back"; // a node flapped back while the push was on its way
        return { ok: true };
      },
    },
    clock: new VirtualClock(1_800_000_000_000),
    log: silentLogger,
    cfg: { tombstone_ttl: 86_400_000 },
  } as unknown as RepairDeps;
  const repair = new Repair(deps);
  repair.ringChanged({} as never, {} as never);
  await repair.handover();
  assert.deepEqual(dropped, [], "still an owner when the push ended: kept");
  // the same without the change during the push: dropped once the new owner has it
  ring = "away";
  scanned = false;
  deps.peers.replicate = () => Promise.resolve({ ok: true }) as never;
  repair.ringChanged({} as never, {} as never);
  await repair.handover();
  assert.deepEqual(dropped, ["k"]);
});

Deno.test("kv hints: a peer that refuses them is said once a minute and counted; the hints stay", async () => {
  const hints = new Set<string>(["a"]);
  const said: string[] = [];
  const clock = new VirtualClock(1_800_000_000_000);
  const repair = new Repair(hintDeps(
    hints,
    (key) => record(key, 1),
    () => Promise.reject(new PeerRefused(peer, 507, { error: "disk full" })),
    { clock, warn: (m) => said.push(m) },
  ));
  await repair.deliverHints();
  await repair.deliverHints();
  assert.equal(said.length, 1, said.join("\n"));
  assert.match(said[0], /kv: peer refuses the writes it missed \(peer answered 507: disk full\)/);
  assert.equal(repair.stats().hints_refused, 2);
  assert.deepEqual([...hints], ["a"], "kept for later");
  await clock.advance(61_000);
  await repair.deliverHints();
  assert.equal(said.length, 2, "said again after a minute");
});
