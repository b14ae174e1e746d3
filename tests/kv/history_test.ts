/**
 * A Jepsen-style history check on in-process nodes over real HTTP: concurrent clients put and CAS
 * while nodes are stopped and restarted (sometimes marked dead so the ring moves) and the network
 * is partitioned (2 nodes cut off from 3; membership views stay shared). Afterwards:
 * no acknowledged write is lost, no CAS succeeds twice on the same index while the ring is stable,
 * replicas converge.
 *
 * A node marked dead moves the ring: the key's new owners may not hold its latest version until
 * handover and anti-entropy, and README documents that a CAS on the same base can then succeed on
 * both rings (there is no consensus round). Two successful CAS on one index are allowed only when the
 * time between them overlaps such a ring move (from the stop to RING_SETTLE_MS after the return).
 */
import assert from "node:assert/strict";
import { dec, eventually, FakeCluster, type KvTestNode, startKvNode, stopAll } from "./kv_helpers.ts";

interface Op {
  kind: "put" | "cas";
  key: string;
  value: string;
  cas?: number;
  start: number;
  end: number;
  /** true: acked, false: refused (CAS false or an error status), null: unknown (timeout, node gone). */
  ok: boolean | null;
}

const KEYS = ["h/a", "h/b", "h/c", "h/d"];
const COUNTERS = ["h/n1", "h/n2"];
const RUN_MS = 5000;
const CLIENTS = 12;
/** After a dead node returns: the ring moved back; handover and anti-entropy (300 ms here) catch up. */
const RING_SETTLE_MS = 1000;

Deno.test({
  name: "history: no acked write lost, no double CAS, replicas converge under restarts and partitions",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = new FakeCluster();
    const nodes: KvTestNode[] = [];
    for (const n of ["n1", "n2", "n3", "n4", "n5"]) {
      nodes.push(
        await startKvNode({
          name: n,
          cluster,
          kv: { anti_entropy_interval: "300ms", request_timeout: "1s" },
        }),
      );
    }
    for (const n of nodes) n.kv.refreshRing();
    const history: Op[] = [];
    const until = performance.now() + RUN_MS;
    let seq = 0;

    const call = async (op: Op, init: RequestInit, path: string): Promise<Response | null> => {
      const live = nodes.filter((n) => n.running);
      const n = live[Math.floor(Math.random() * live.length)];
      try {
        return await fetch(n.url + path, { ...init, signal: AbortSignal.timeout(3000) });
      } catch {
        op.ok = null;
        return null;
      }
    };

    // the clients go on for a calm second after the chaos and its last ring move: enough CAS happen
    // away from ring moves however slow the box made the chaos rounds (6 on a loaded CI once)
    let calmEnd = Infinity;
    const client = async (id: number) => {
      while (performance.now() < Math.max(until, calmEnd)) {
        if (Math.random() < 0.5) {
          const key = KEYS[Math.floor(Math.random() * KEYS.length)];
          const op: Op = {
            kind: "put",
            key,
            value: `c${id}-${seq++}`,
            start: performance.now(),
            end: 0,
            ok: null,
          };
          const r = await call(op, { method: "PUT", body: op.value }, `/kv/${key}`);
          op.end = performance.now();
          if (r) {
            op.ok = r.status === 200
              ? await r.json() === true
              : (await r.body?.cancel(), r.status === 503 ? null : false);
          }
          history.push(op);
        } else {
          const key = COUNTERS[Math.floor(Math.random() * COUNTERS.length)];
          const probe: Op = { kind: "cas", key, value: "", start: 0, end: 0, ok: null };
          const g = await call(probe, {}, `/kv/${key}?meta`);
          if (!g) continue;
          let cur = 0, index = 0;
          if (g.status === 200) {
            const m = await g.json();
            cur = Number(atob(m.value));
            index = m.modify_index;
          } else if (g.status === 404) await g.body?.cancel();
          else {
            await g.body?.cancel();
            continue;
          }
          const op: Op = {
            kind: "cas",
            key,
            value: String(cur + 1),
            cas: index,
            start: performance.now(),
            end: 0,
            ok: null,
          };
          const r = await call(op, { method: "PUT", body: op.value }, `/kv/${key}?cas=${index}`);
          op.end = performance.now();
          if (r) {
            op.ok = r.status === 200
              ? await r.json() === true
              : (await r.body?.cancel(), r.status === 503 ? null : false);
          }
          history.push(op);
        }
      }
    };

    let round = 0, partitions = 0;
    // [from, to] of each ring move: a node stopped and marked dead until RING_SETTLE_MS after its return
    const ringMoves: Array<[number, number]> = [];
    // the minority side of the current partition (empty: none); set on every node's peer client
    let minority = new Set<string>();
    const applyFaults = () => {
      for (const n of nodes) {
        n.fault = (peer) =>
          minority.size && minority.has(n.uuid) !== minority.has(peer.uuid) ? "partitioned (test)" : null;
      }
    };
    const chaos = async () => {
      try {
        await chaosRounds();
      } finally {
        calmEnd = performance.now() + RING_SETTLE_MS + 1000;
      }
    };
    const chaosRounds = async () => {
      while (performance.now() < until - 800) {
        await new Promise((r) => setTimeout(r, 250));
        const kind = round++ % 3;
        if (kind === 2) {
          // a network partition: two nodes cut off from the other three (clients reach everyone)
          const shuffled = [...nodes].sort(() => Math.random() - 0.5);
          minority = new Set(shuffled.slice(0, 2).map((n) => n.uuid));
          applyFaults();
          partitions++;
          await new Promise((r) => setTimeout(r, 600));
          minority = new Set();
          continue;
        }
        const victim = nodes[Math.floor(Math.random() * nodes.length)];
        if (!victim.running) continue;
        const markDead = kind === 0;
        const stoppedAt = performance.now();
        await victim.stop();
        if (markDead) cluster.setState(victim.uuid, "dead");
        await new Promise((r) => setTimeout(r, 300));
        await victim.restart();
        applyFaults();
        if (markDead) cluster.setState(victim.uuid, "alive");
        victim.kv.refreshRing();
        if (markDead) ringMoves.push([stoppedAt, performance.now() + RING_SETTLE_MS]);
      }
    };

    try {
      await Promise.all([chaos(), ...Array.from({ length: CLIENTS }, (_, i) => client(i))]);
      for (const n of nodes) if (!n.running) await n.restart();
      for (const n of nodes) n.kv.refreshRing();

      const acked = history.filter((o) => o.ok === true);
      console.log(
        `  ${history.length} ops, ${acked.length} acked, ${
          history.filter((o) => o.ok === null).length
        } unknown, ` +
          `${history.filter((o) => o.ok === false).length} refused, ${round - partitions} restarts, ` +
          `${partitions} partitions`,
      );
      assert.ok(round >= 4 && partitions >= 1, `only ${round} chaos rounds, ${partitions} partitions`);
      assert.ok(acked.filter((o) => o.kind === "put").length > 50, "enough acked puts");
      assert.ok(acked.filter((o) => o.kind === "cas").length > 10, "enough successful CAS");

      // replicas converge: every owner holds the same version of each key
      const allKeys = [...KEYS, ...COUNTERS];
      await eventually("replicas converge", () =>
        allKeys.every((k) => {
          const owners = nodes[0].kv.placement.owners(k);
          const versions = owners.map((o) => {
            const r = nodes.find((n) => n.uuid === o.uuid)!.kv.local.storage.getRecord(k);
            return r ? `${r.modify_index}/${r.origin}` : "none";
          });
          return new Set(versions).size === 1 && versions[0] !== "none";
        }), 10_000);

      // no CAS succeeded twice on the same index of the same key, unless the ring moved in between
      const duringMove = (from: number, to: number) => ringMoves.some(([a, b]) => from <= b && to >= a);
      const casAcked = acked.filter((o) => o.kind === "cas");
      const stable = casAcked.filter((o) => !duringMove(o.start, o.end));
      assert.ok(stable.length > 10, `only ${stable.length} successful CAS away from ring moves`);
      const byId = Map.groupBy(casAcked, (o) => `${o.key}@${o.cas}`);
      let excused = 0;
      for (const [id, ops] of byId) {
        if (ops.length < 2) continue;
        const from = Math.min(...ops.map((o) => o.start)), to = Math.max(...ops.map((o) => o.end));
        assert.ok(duringMove(from, to), `two successful CAS on ${id} while the ring was stable`);
        excused++;
      }
      console.log(
        `  ${stable.length} of ${casAcked.length} successful CAS away from ring moves` +
          (excused ? `; ${excused} index(es) won twice across a ring move (documented)` : ""),
      );

      // no acked write lost: the final value comes from a write that no acked write strictly followed
      for (const key of allKeys) {
        const final = await nodes[0].kv.get(key);
        const value = final.entry ? dec(final.entry.value) : null;
        const writes = history.filter((o) =>
          o.key === key && o.ok !== false && (o.kind === "put" || o.ok === true || o.ok === null)
        );
        const ackedHere = writes.filter((o) => o.ok === true);
        if (!ackedHere.length) continue;
        const candidates = writes.filter((w) => w.value === value);
        assert.ok(
          candidates.length,
          `${key}: final value ${value} was never written by an acked or pending write`,
        );
        const lastAckedStart = Math.max(...ackedHere.map((a) => a.start));
        assert.ok(
          candidates.some((w) => w.end >= lastAckedStart),
          `${key}: final value ${value} predates an acked write (lost update)`,
        );
      }
      // counters: successful CAS values never repeat and the final value is at least the highest acked one
      for (const key of COUNTERS) {
        const cas = acked.filter((o) => o.key === key && o.kind === "cas");
        const vals = cas.map((o) => Number(o.value));
        for (const [v, ops] of Map.groupBy(cas, (o) => o.value)) {
          if (ops.length < 2) continue;
          const from = Math.min(...ops.map((o) => o.start)), to = Math.max(...ops.map((o) => o.end));
          assert.ok(
            duringMove(from, to),
            `${key}: counter value ${v} was set by two successful CAS while the ring was stable`,
          );
        }
        const final = await nodes[0].kv.get(key);
        if (vals.length) {
          assert.ok(Number(dec(final.entry!.value)) >= Math.max(...vals), `${key}: acked CAS lost`);
        }
      }
    } finally {
      await stopAll(nodes);
    }
  },
});
