import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { keepSeedsJoined, resolveHost } from "../../lib/gossip/seeds.ts";
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

Deno.test("a seed given as a host name is resolved at each check: joined by name only when no address of it is a member", async () => {
  const addrs: Record<string, string[]> = { "seed1.example": ["10.0.0.7", "fd00::7"] };
  const asked: string[] = [];
  const self = { addr: "10.0.0.9", port: 6768, state: "alive" };
  const members: M[] = [self, { addr: "fd00::7", port: 7000, state: "alive" }];
  const clock = new VirtualClock();
  const joins: string[] = [];
  const abort = new AbortController();
  const done = keepSeedsJoined({
    seeds: ["seed1.example:7000", "seed2.example"],
    defaultPort: 6768,
    self: { addr: "10.0.0.9", port: 6768 },
    members: () => members,
    join: (p: PeerAddr) => {
      joins.push(`${p.addr}:${p.port}`);
      return Promise.resolve(true);
    },
    resolve: (host) => {
      asked.push(host);
      const a = addrs[host];
      return a ? Promise.resolve(a) : Promise.reject(new Error(`${host}: no such host`));
    },
    clock,
    random: () => 0,
    log: silentLogger,
    everyMs: 60_000,
    signal: abort.signal,
  });
  await clock.advance(60_000);
  assert.deepEqual(joins, [], "seed1's IPv6 address is a member (on the seed's port)");
  assert.deepEqual(asked, ["seed1.example"], "names are resolved in turn until one is a member");
  members[1].port = 6768; // the same address on another port is another agent
  await clock.advance(60_000);
  assert.deepEqual(joins, ["seed1.example:7000"], "none is a member: joined through the name");
  assert.deepEqual(
    asked.slice(1),
    ["seed1.example", "seed2.example"],
    "a name that does not resolve counts as absent",
  );
  addrs["seed1.example"] = ["10.0.0.8"]; // the name moved to a member's address
  members.push({ addr: "10.0.0.8", port: 7000, state: "suspect" });
  await clock.advance(60_000);
  assert.equal(joins.length, 1, "resolved again at the next check: a member now");
  abort.abort();
  await done;
});

Deno.test("an agent whose only seed is itself never joins again", async () => {
  const me = reseed(["10.0.0.9"], [{ addr: "10.0.0.9", port: 6768, state: "alive" }]);
  await me.done;
  await me.clock.advance(3_600_000);
  assert.deepEqual(me.joins, []);
});

Deno.test("a seed's host name resolves through /etc/hosts", async () => {
  const addrs = await resolveHost("localhost", AbortSignal.timeout(5000));
  assert.ok(addrs.includes("127.0.0.1") || addrs.includes("::1"), addrs.join(" "));
});
