/**
 * A split brain: five nodes, each with its own membership table. During a partition each side
 * declares the other dead, so both sides move their rings and accept writes (sloppy quorum).
 * After the heal, handover and anti-entropy must converge every key to the last acknowledged write
 * (last writer wins on the hybrid-logical-clock index): no acked write lost, no resurrection.
 */
import assert from "node:assert/strict";
import { dec, eventually, FakeCluster, type KvTestNode, startKvNode, stopAll } from "./kv_helpers.ts";

interface Op {
  key: string;
  value: string | null;
  start: number;
  end: number;
  ok: boolean | null;
}

Deno.test({
  name: "split brain: both sides write, after the heal every key converges to the last acked write",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const names = ["s1", "s2", "s3", "s4", "s5"];
    const views = names.map(() => new FakeCluster());
    const nodes: KvTestNode[] = [];
    for (let i = 0; i < names.length; i++) {
      nodes.push(
        await startKvNode({
          name: names[i],
          cluster: views[i],
          kv: { anti_entropy_interval: "300ms", request_timeout: "800ms" },
        }),
      );
    }
    // everyone's table knows everyone
    for (const v of views) {
      for (const n of nodes) {
        if (!v.records.has(n.uuid)) {
          v.add({
            uuid: n.uuid,
            name: n.name,
            addr: "127.0.0.1",
            port: n.port,
            incarnation: 0,
            state: "alive",
            tags: ["kv"],
            services: {},
            zone: "",
          });
        }
      }
    }
    for (const n of nodes) n.kv.refreshRing();
    const keys = Array.from({ length: 12 }, (_, i) => `split/${i}`);
    const history: Op[] = [];
    let seq = 0;
    const until = performance.now() + 4000;
    let minority = new Set<string>();
    for (const n of nodes) {
      n.fault = (peer) =>
        minority.size && minority.has(n.uuid) !== minority.has(peer.uuid) ? "partitioned (test)" : null;
    }

    const client = async (id: number) => {
      while (performance.now() < until) {
        const key = keys[Math.floor(Math.random() * keys.length)];
        const del = Math.random() < 0.1;
        const op: Op = {
          key,
          value: del ? null : `c${id}-${seq++}`,
          start: performance.now(),
          end: 0,
          ok: null,
        };
        const n = nodes[Math.floor(Math.random() * nodes.length)];
        try {
          const r = del ? await n.kv.delete(key) : await n.kv.put(key, new TextEncoder().encode(op.value!));
          op.ok = r.ok;
        } catch {
          op.ok = null; // 503: may or may not have landed
        }
        op.end = performance.now();
        history.push(op);
      }
    };

    const split = async () => {
      await new Promise((r) => setTimeout(r, 1000));
      minority = new Set([nodes[0].uuid, nodes[1].uuid]);
      // each side declares the other dead: the rings diverge
      views.forEach((v, i) => {
        for (const n of nodes) {
          if (minority.has(n.uuid) !== minority.has(nodes[i].uuid)) v.setState(n.uuid, "dead");
        }
      });
      await new Promise((r) => setTimeout(r, 1500));
      minority = new Set();
      views.forEach((v) => {
        for (const n of nodes) if (v.records.get(n.uuid)!.state !== "alive") v.setState(n.uuid, "alive");
      });
    };

    try {
      await Promise.all([split(), ...Array.from({ length: 8 }, (_, i) => client(i))]);
      const acked = history.filter((o) => o.ok === true);
      console.log(
        `  ${history.length} writes, ${acked.length} acked, ${
          history.filter((o) => o.ok === null).length
        } unknown`,
      );
      assert.ok(acked.length > 100);

      const state = (k: string) => {
        const owners = nodes[0].kv.placement.owners(k);
        return owners.map((o) => {
          const r = nodes.find((n) => n.uuid === o.uuid)!.kv.local.storage.getRecord(k);
          return r ? `${r.modify_index}/${r.origin}` : "none";
        });
      };
      await eventually(
        "owners converge on every key",
        () => keys.every((k) => new Set(state(k)).size === 1),
        15_000,
      );

      for (const key of keys) {
        const final = await nodes[2].kv.get(key);
        const value = final.entry ? dec(final.entry.value) : null;
        const writes = history.filter((o) => o.key === key && o.ok !== false);
        const ackedHere = writes.filter((o) => o.ok === true);
        if (!ackedHere.length) continue;
        const lastAckedStart = Math.max(...ackedHere.map((a) => a.start));
        const candidates = writes.filter((w) => w.value === value && w.end >= lastAckedStart);
        assert.ok(
          candidates.length,
          `${key}: final ${value} is not the last acked write nor a later/concurrent one`,
        );
      }
    } finally {
      await stopAll(nodes);
    }
  },
});
