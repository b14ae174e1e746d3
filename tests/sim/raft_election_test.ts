import assert from "node:assert/strict";
import { RaftSim } from "./raft_harness.ts";
import { steppedClock } from "../clock_step.ts";

for (const n of [5, 50]) {
  Deno.test(`raft sim ${n} nodes: one leader within 2 s of start, a new one within 3 s of killing it`, async () => {
    for (const seed of [1, 2, 3]) {
      const sim = new RaftSim(n, seed * 100 + n);
      sim.start();
      const t = await sim.until(() => sim.agreedLeader(sim.ids) !== null, 2000);
      assert.ok(t >= 0, `seed ${seed}: no agreed leader 2 s after start`);
      const first = sim.agreedLeader(sim.ids)!;
      await sim.run(3000);
      assert.equal(sim.agreedLeader(sim.ids), first, "a stable leader stays");
      sim.kill(first);
      const rest = sim.ids.filter((id) => id !== first);
      const t2 = await sim.until(() => sim.agreedLeader(rest) !== null, 3000);
      assert.ok(t2 >= 0, `seed ${seed}: no new leader 3 s after killing ${first}`);
      assert.notEqual(sim.agreedLeader(rest), first);
      assert.deepEqual(sim.violations, []);
      sim.stop();
    }
  });
}

Deno.test("raft sim: a minority partition never elects; after healing a single leader remains", async () => {
  for (const seed of [7, 8, 9]) {
    const sim = new RaftSim(5, seed);
    sim.start();
    assert.ok(await sim.until(() => sim.agreedLeader(sim.ids) !== null, 2000) >= 0);
    const leader = sim.agreedLeader(sim.ids)!;
    // the leader and one other on the minority side
    const other = sim.ids.find((id) => id !== leader)!;
    const minority = [leader, other];
    const majority = sim.ids.filter((id) => !minority.includes(id));
    sim.partition([minority, majority]);
    const termsBefore = new Set(sim.leadersByTerm.keys());
    assert.ok(await sim.until(() => sim.agreedLeader(majority) !== null, 3000) >= 0, "majority elects");
    await sim.run(5000);
    // the old leader stepped down (check-quorum) and nobody on the minority side won a term since
    assert.deepEqual(sim.leaders(minority), []);
    for (const [term, id] of sim.leadersByTerm) {
      if (!termsBefore.has(term)) {
        assert.ok(majority.includes(id), `${id} elected in term ${term} from the minority`);
      }
    }
    const majLeader = sim.agreedLeader(majority)!;
    sim.heal();
    assert.ok(await sim.until(() => sim.agreedLeader(sim.ids) !== null, 3000) >= 0, "one leader after heal");
    // pre-vote + stickiness: the returning minority did not depose the majority's leader
    assert.equal(sim.agreedLeader(sim.ids), majLeader);
    await sim.run(3000);
    assert.equal(sim.leaders().length, 1);
    assert.deepEqual(sim.violations, []);
    sim.stop();
  }
});

Deno.test("raft sim: an isolated node does not raise the term of the others when it comes back", async () => {
  const sim = new RaftSim(5, 42);
  sim.start();
  assert.ok(await sim.until(() => sim.agreedLeader(sim.ids) !== null, 2000) >= 0);
  const leader = sim.agreedLeader(sim.ids)!;
  const loner = sim.ids.find((id) => id !== leader)!;
  const term = sim.nodes.get(leader)!.group!.machine.term;
  sim.partition([[loner], sim.ids.filter((id) => id !== loner)]);
  await sim.run(10_000);
  // without a quorum of pre-votes, the loner never increments its term
  assert.equal(sim.nodes.get(loner)!.group!.machine.term, term);
  sim.heal();
  await sim.run(2000);
  assert.equal(sim.agreedLeader(sim.ids), leader);
  assert.equal(sim.nodes.get(leader)!.group!.machine.term, term);
  sim.stop();
});

Deno.test("raft sim: a group smaller than min_size never elects", async () => {
  const sim = new RaftSim(2, 5, undefined, 3);
  sim.start();
  await sim.run(10_000);
  assert.deepEqual(sim.leaders(), []);
  assert.equal(sim.leadersByTerm.size, 0);
  sim.stop();
});

Deno.test("raft sim: a leader whose wall clock steps an hour either way stays the leader, in the same term", async () => {
  for (const step of [-3_600_000, 3_600_000]) {
    const sim = new RaftSim(3, 21);
    const clocks = new Map(sim.ids.map((id) => [id, steppedClock(sim.clock)]));
    for (const [id, c] of clocks) sim.clocks.set(id, c);
    sim.start();
    assert.ok(await sim.until(() => sim.agreedLeader(sim.ids) !== null, 2000) >= 0);
    await sim.run(2000);
    const leader = sim.agreedLeader(sim.ids)!;
    const term = sim.nodes.get(leader)!.group!.machine.term;
    clocks.get(leader)!.step(step);
    await sim.run(5000);
    assert.equal(sim.agreedLeader(sim.ids), leader, `step ${step}: the leader changed`);
    assert.equal(sim.nodes.get(leader)!.group!.machine.term, term, `step ${step}: an election was held`);
    assert.deepEqual(sim.violations, []);
    sim.stop();
  }
});
