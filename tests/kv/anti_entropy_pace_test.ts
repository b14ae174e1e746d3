/**
 * Issue 12 (KV write p99): a periodic anti-entropy pull that finds everything already here pages
 * through the peer's changes IDLE_PAGE_GAP_MS apart (spread, not one burst); a page with missing
 * records is followed at once (a restarted node catches up at full speed).
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { IDLE_PAGE_GAP_MS, Repair, type RepairDeps } from "../../lib/kv/repair.ts";

const self = { uuid: "u-self", name: "self", addr: "127.0.0.1", port: 1 };
const peer = { uuid: "u-peer", name: "peer", addr: "127.0.0.1", port: 2 };

/** A peer holding `pages` pages of changes; `have(key)` says whether we already hold that version. */
function setup(pages: number, have: (key: string) => boolean) {
  const clock = new VirtualClock(1_800_000_000_000);
  const calls: number[] = [];
  const reads: string[] = [];
  let mark = { epoch: "e", seq: 0 };
  const version = (key: string) => ({ key, modify_index: 5, origin: peer.uuid });
  const deps = {
    local: {
      storage: {
        marks: {
          mark: () => mark,
          setMark: (_p: string, epoch: string, seq: number) => (mark = { epoch, seq }),
        },
        getRecord: (key: string) => (have(key) ? { ...version(key), value: "" } : null),
      },
      apply: () => true,
      markFresh: () => {},
    },
    placement: { holders: () => [self, peer], isSelf: (n: { uuid: string }) => n.uuid === self.uuid, self },
    peers: {
      call: (_p: unknown, _kind: string, body: { since: number }) => {
        calls.push(clock.now());
        const page = body.since / 10;
        const versions = Array.from({ length: 10 }, (_, i) => version(`k${page * 10 + i}`));
        return Promise.resolve({ epoch: "e", versions, last_seq: body.since + 10, more: page + 1 < pages });
      },
      read: (_p: unknown, key: string) => {
        reads.push(key);
        return Promise.resolve({ record: null });
      },
    },
    clock,
    log: silentLogger,
    cfg: { tombstone_ttl: 86_400_000 },
  } as unknown as RepairDeps;
  return { clock, calls, reads, repair: new Repair(deps), mark: () => mark };
}

const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

Deno.test("kv anti-entropy: pages with nothing to repair are spread IDLE_PAGE_GAP_MS apart", async () => {
  const { clock, calls, reads, repair, mark } = setup(4, () => true);
  const t0 = clock.now();
  const round = repair.antiEntropy();
  await turns();
  assert.equal(calls.length, 1, "the first page at once, the next waits");
  for (let i = 1; i < 4; i++) {
    await clock.advance(IDLE_PAGE_GAP_MS);
    await turns();
    assert.equal(calls.length, i + 1, `page ${i + 1} after ${i} gaps`);
  }
  await round;
  assert.deepEqual(calls.map((t) => t - t0), [0, 1, 2, 3].map((i) => i * IDLE_PAGE_GAP_MS));
  assert.equal(reads.length, 0, "nothing read: every version was here");
  assert.equal(mark().seq, 40, "the mark moved past every page");
});

Deno.test("kv anti-entropy: a page that found missing records is followed at once", async () => {
  const { clock, calls, reads, repair } = setup(4, () => false);
  await repair.antiEntropy();
  assert.equal(calls.length, 4, "every page without waiting on the clock");
  assert.equal(clock.pending, 0);
  assert.equal(reads.length, 40, "each missing key read from the peer");
});

Deno.test("kv anti-entropy: stop() ends a pause at once and the round ends", async () => {
  const { clock, calls, repair } = setup(4, () => true);
  const round = repair.antiEntropy();
  await turns();
  assert.equal(calls.length, 1);
  repair.stop();
  await round;
  assert.equal(calls.length, 1, "no page after stop");
  assert.equal(clock.pending, 0, "no timer left behind");
});
