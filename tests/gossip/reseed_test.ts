import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { keepSeedsJoined } from "../../lib/gossip/seeds.ts";
import type { PeerAddr } from "../../lib/transport/mod.ts";

type M = { addr: string; port: number; state: string };

function reseed(seeds: string[], members: M[], answer = true) {
  const clock = new VirtualClock();
  const joins: string[] = [];
  const abort = new AbortController();
  const done = keepSeedsJoined({
    seeds,
    defaultPort: 6768,
    self: { addr: "10.0.0.9", port: 6768 },
    members: () => members,
    join: (p: PeerAddr) => {
      joins.push(`${p.addr}:${p.port}`);
      return Promise.resolve(answer);
    },
    clock,
    random: () => 0,
    log: silentLogger,
    everyMs: 600_000,
    signal: abort.signal,
  });
  return { clock, joins, members, abort, done };
}

Deno.test("a joined agent joins a seed again once none is among its live members, and only then", async () => {
  const self = { addr: "10.0.0.9", port: 6768, state: "alive" };
  const seed = { addr: "10.0.0.1", port: 6768, state: "alive" };
  const t = reseed(["10.0.0.1", "10.0.0.2:7000"], [self, seed, {
    addr: "10.0.0.5",
    port: 6768,
    state: "alive",
  }]);
  await t.clock.advance(600_000);
  await t.clock.advance(600_000);
  assert.deepEqual(t.joins, [], "a seed is among the members: nothing to do");
  // the group lost the seeds (dead, or gone from the table): the next check joins one of them
  seed.state = "dead";
  await t.clock.advance(599_000);
  assert.deepEqual(t.joins, [], "not before the period");
  await t.clock.advance(1_000);
  assert.deepEqual(t.joins, ["10.0.0.1:6768"]);
  t.members.splice(1, 1);
  await t.clock.advance(600_000);
  assert.equal(t.joins.length, 2, "and again at each period while none is back");
  t.members.push({ addr: "10.0.0.2", port: 7000, state: "suspect" });
  await t.clock.advance(600_000);
  assert.equal(t.joins.length, 2, "a suspect seed is still a member");
  t.abort.abort();
  await t.done;
});

Deno.test("seeds given as host names, or only ourselves, are not joined again", async () => {
  const names = reseed(["seed1.example", "seed2.example:7000"], [{
    addr: "10.0.0.9",
    port: 6768,
    state: "alive",
  }]);
  const me = reseed(["10.0.0.9"], [{ addr: "10.0.0.9", port: 6768, state: "alive" }]);
  await names.done;
  await me.done;
  await names.clock.advance(3_600_000);
  await me.clock.advance(3_600_000);
  assert.deepEqual([...names.joins, ...me.joins], []);
});
