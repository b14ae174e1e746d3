import assert from "node:assert/strict";
import { quorum, RaftMachine, type RaftMsg, TERM_MAX } from "../../lib/raft/mod.ts";
import { decodeMsg, encodeMsg } from "../../lib/raft/http_transport.ts";

const T = { heartbeatMs: 100, electionMinMs: 500, electionMaxMs: 1000 };
const VOTERS = ["a", "b", "c"];

function machine(id: string, term = 0, votedFor: string | null = null): RaftMachine {
  const m = new RaftMachine({ id, group: "g", term, votedFor, timings: T, random: () => 0, now: 0 });
  m.setVoters(VOTERS, 0);
  return m;
}
const msg = (type: RaftMsg["type"], from: string, term: number, granted?: boolean): RaftMsg => ({
  type,
  group: "g",
  from,
  term,
  granted,
});

Deno.test("quorum is a majority of the group, at least of min_size", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => quorum(n)), [1, 2, 2, 3, 3]);
  assert.equal(quorum(1, 3), 2);
});

Deno.test("one vote per term: the first candidate gets it, the second does not; persisted", () => {
  const m = machine("a");
  let out = m.receive(msg("vote", "b", 1), 0);
  assert.equal(out.persist, true);
  assert.deepEqual(out.send.map((s) => [s.to, s.msg.type, s.msg.granted]), [["b", "vote_reply", true]]);
  out = m.receive(msg("vote", "c", 1), 1);
  assert.deepEqual(out.send.map((s) => [s.to, s.msg.granted]), [["c", false]]);
  assert.equal(m.votedFor, "b");
  // a restarted node keeps its vote
  const again = machine("a", 1, "b");
  assert.equal(again.receive(msg("vote", "c", 1), 0).send[0].msg.granted, false);
  // nodes outside the group get no vote (no answer at all)
  assert.deepEqual(machine("a").receive(msg("vote", "zz", 1), 0).send, []);
});

Deno.test("a timeout starts a pre-vote for term+1 that changes nobody's term", () => {
  const m = machine("a");
  const out = m.tick(m.nextDeadline());
  assert.equal(m.role, "precandidate");
  assert.equal(m.term, 0);
  assert.deepEqual(out.send.map((s) => [s.to, s.msg.type, s.msg.term]), [["b", "prevote", 1], [
    "c",
    "prevote",
    1,
  ]]);
  const b = machine("b");
  const reply = b.receive(out.send[0].msg, 10);
  assert.equal(reply.send[0].msg.granted, true);
  assert.equal(b.term, 0);
  assert.equal(reply.persist, false);
  // with a quorum of pre-votes: candidate of term 1, votes for itself (persisted), asks for votes
  const cand = m.receive(reply.send[0].msg, 20);
  assert.equal(m.role, "candidate");
  assert.equal(m.term, 1);
  assert.equal(m.votedFor, "a");
  assert.equal(cand.persist, true);
  assert.deepEqual(cand.send.map((s) => s.msg.type), ["vote", "vote"]);
  const vote = b.receive(cand.send[0].msg, 30);
  const won = m.receive(vote.send[0].msg, 40);
  assert.equal(m.role, "leader");
  assert.equal(m.leader, "a");
  assert.ok(won.leaderChanged);
  assert.deepEqual(won.send.map((s) => s.msg.type), ["heartbeat", "heartbeat"]);
});

Deno.test("a node that heard its leader recently refuses pre-votes and votes (stickiness)", () => {
  const b = machine("b");
  b.receive(msg("heartbeat", "a", 3), 1000);
  assert.equal(b.leader, "a");
  assert.equal(b.receive(msg("prevote", "c", 4), 1100).send[0].msg.granted, false);
  const v = b.receive(msg("vote", "c", 4), 1200);
  assert.equal(v.send[0].msg.granted, false);
  assert.equal(b.term, 3, "the term did not move");
  // once the leader has been silent for the minimum election timeout, it grants
  assert.equal(b.receive(msg("prevote", "c", 4), 1600).send[0].msg.granted, true);
});

Deno.test("a leader steps down on a higher term, and when a quorum stops answering", () => {
  const m = machine("a");
  m.tick(m.nextDeadline());
  m.receive(msg("prevote_reply", "b", 0, true), 1);
  m.receive(msg("vote_reply", "b", 1, true), 2);
  assert.equal(m.role, "leader");
  const out = m.receive(msg("heartbeat_reply", "c", 5), 3);
  assert.equal(m.role, "follower");
  assert.equal(m.term, 5);
  assert.equal(m.leader, null);
  assert.ok(out.persist && out.leaderChanged);

  const l = machine("a");
  l.tick(l.nextDeadline());
  l.receive(msg("prevote_reply", "b", 0, true), 1);
  l.receive(msg("vote_reply", "b", 1, true), 2);
  assert.equal(l.role, "leader");
  // nobody answers heartbeats: check-quorum makes it give up after the max election timeout
  let now = 2;
  while (l.role === "leader" && now < 5000) {
    now = l.nextDeadline();
    l.tick(now);
  }
  assert.equal(l.role, "follower");
  assert.ok(now <= 2 + T.electionMaxMs + T.electionMinMs, `stepped down at ${now}`);
});

Deno.test("grants and acks from outside the group count for nothing (anyone can claim a `from`)", () => {
  const m = machine("a");
  m.tick(m.nextDeadline());
  assert.equal(m.role, "precandidate");
  // pre-vote grants from non-voters: no quorum
  m.receive(msg("prevote_reply", "x1", 0, true), 10);
  m.receive(msg("prevote_reply", "x2", 0, true), 11);
  assert.equal(m.role, "precandidate");
  m.receive(msg("prevote_reply", "b", 0, true), 12);
  assert.equal(m.role, "candidate");
  // vote grants from non-voters: no quorum either
  m.receive(msg("vote_reply", "x1", 1, true), 20);
  m.receive(msg("vote_reply", "x2", 1, true), 21);
  assert.equal(m.role, "candidate");
  m.receive(msg("vote_reply", "c", 1, true), 22);
  assert.equal(m.role, "leader");
  // a leader hears only from non-voters: it steps down at the quorum check all the same
  for (let t = 100; t <= 3000; t += 100) m.receive(msg("heartbeat_reply", "x1", 1), t), m.tick(t);
  assert.notEqual(m.role, "leader");
});

Deno.test("a heartbeat from outside the group makes no leader and takes no term", () => {
  const m = machine("a");
  const out = m.receive(msg("heartbeat", "nobody", 7), 0);
  assert.deepEqual(out, { send: [], persist: false, leaderChanged: false });
  assert.equal(m.leader, null);
  assert.equal(m.term, 0);
  // the same from a voter is a leader
  m.receive(msg("heartbeat", "b", 7), 1);
  assert.equal(m.leader, "b");
  assert.equal(m.term, 7);
});

Deno.test("one heartbeat at the top term no longer parks a group: terms stay under TERM_MAX and jump by bounded, rare steps", () => {
  const [a, b, c] = VOTERS.map((id, i) => {
    const m = new RaftMachine({
      id,
      group: "g",
      term: 0,
      votedFor: null,
      timings: T,
      random: () => i / 3,
      now: 0,
    });
    m.setVoters(VOTERS, 0);
    return m;
  });
  // the auditor's message, from a voter's uuid, and one at the decoder's top
  for (const term of [Number.MAX_SAFE_INTEGER, TERM_MAX + 1, TERM_MAX, 2 ** 32 + 1]) {
    assert.deepEqual(a.receive(msg("heartbeat", "b", term), 0).send, []);
  }
  assert.equal(a.term, 0);
  assert.equal(a.leader, null);
  // a node of an old group learns its term at once (a jump), then not again within a minute
  a.receive(msg("heartbeat", "b", 5000), 10);
  assert.deepEqual([a.term, a.leader], [5000, "b"]);
  a.receive(msg("heartbeat", "c", 2 ** 31), 20);
  assert.deepEqual([a.term, a.leader], [5000, "b"]);
  // small steps (elections) always apply
  a.receive(msg("heartbeat", "c", 5001), 30);
  assert.deepEqual([a.term, a.leader], [5001, "c"]);
  a.receive(msg("heartbeat", "b", 2 ** 31), 60_010);
  assert.equal(a.term, 2 ** 31);
  // the group still elects a leader: b and c never took the forged terms
  let now = 60_010;
  const all = [a, b, c];
  for (let i = 0; i < 200 && !all.some((m) => m.role === "leader"); i++) {
    const next = Math.min(...all.map((m) => m.nextDeadline()));
    now = Math.max(now, next);
    const queue = all.flatMap((m) => m.tick(now).send);
    while (queue.length) {
      const { to, msg: sent } = queue.shift()!;
      queue.push(...all.find((m) => m.id === to)!.receive(sent, now).send);
    }
  }
  assert.ok(all.some((m) => m.role === "leader"), all.map((m) => `${m.id} ${m.role} ${m.term}`).join(", "));
  // a term saved above the bound by an agent before it: started over
  assert.equal(machine("a", Number.MAX_SAFE_INTEGER, "b").term, 0);
  // and the decoder refuses what no node may take
  assert.equal(decodeMsg(encodeMsg(msg("heartbeat", "b", TERM_MAX + 1))), "bad term");
  assert.equal(typeof decodeMsg(encodeMsg(msg("heartbeat", "b", TERM_MAX))), "object");
});
