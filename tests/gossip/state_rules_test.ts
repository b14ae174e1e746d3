import assert from "node:assert/strict";
import {
  type Known,
  onAlive,
  onDead,
  onLeave,
  onSuspect,
  onSuspicionTimeout,
  type SelfFacts,
  type Verdict,
} from "../../lib/gossip/state_rules.ts";

const other: SelfFacts = { isSelf: false, incarnation: 7, leaving: false };
const me: SelfFacts = { isSelf: true, incarnation: 5, leaving: false };
const meLeaving: SelfFacts = { isSelf: true, incarnation: 5, leaving: true };
const k = (state: Known["state"], incarnation: number): Known => ({ state, incarnation });

const onStrongAlive = (known: Known | undefined, inc: number, s: SelfFacts) => onAlive(known, inc, s, true);

type Row = [
  string,
  (known: Known | undefined, inc: number, s: SelfFacts) => Verdict,
  Known | undefined,
  number,
  SelfFacts,
  string,
];

// [description, rule, known, message incarnation, self facts, expected action[:state]]
const ROWS: Row[] = [
  // alive
  ["alive: about me, not newer → ignored", onAlive, k("alive", 5), 5, me, "ignore"],
  [
    "alive: about me with a higher incarnation → refuted above it",
    onAlive,
    k("alive", 5),
    9,
    me,
    "refute:10",
  ],
  ["alive: about me while leaving → ignored", onAlive, k("leave", 5), 9, meLeaving, "ignore"],
  ["alive: unknown uuid → inserted alive", onAlive, undefined, 0, other, "insert:alive"],
  ["alive: newer incarnation → updated", onAlive, k("alive", 3), 4, other, "update:alive"],
  ["alive: same incarnation → ignored", onAlive, k("alive", 3), 3, other, "ignore"],
  ["alive: older incarnation → ignored", onAlive, k("alive", 3), 2, other, "ignore"],
  ["alive: refutes a suspect with a newer incarnation", onAlive, k("suspect", 3), 4, other, "update:alive"],
  ["alive: same incarnation does not clear suspect", onAlive, k("suspect", 3), 3, other, "ignore"],
  ["alive: revives a dead node with a newer incarnation", onAlive, k("dead", 3), 4, other, "update:alive"],
  ["alive: leave is sticky at the same incarnation", onAlive, k("leave", 3), 3, other, "ignore"],
  ["alive: leave is overridden by a newer incarnation", onAlive, k("leave", 3), 4, other, "update:alive"],
  [
    "alive (strong): the node itself answered → a dead node at the same incarnation revives",
    onStrongAlive,
    k("dead", 3),
    3,
    other,
    "update:alive",
  ],
  [
    "alive (strong): the node itself answered → a suspect at the same incarnation is cleared",
    onStrongAlive,
    k("suspect", 3),
    3,
    other,
    "update:alive",
  ],
  ["alive (strong): an older incarnation is still ignored", onStrongAlive, k("dead", 3), 2, other, "ignore"],
  ["alive (strong): leave stays sticky", onStrongAlive, k("leave", 3), 3, other, "ignore"],
  // suspect
  ["suspect: unknown uuid → ignored", onSuspect, undefined, 1, other, "ignore"],
  ["suspect: older incarnation → ignored", onSuspect, k("alive", 3), 2, other, "ignore"],
  ["suspect: alive node → suspect", onSuspect, k("alive", 3), 3, other, "update:suspect"],
  [
    "suspect: newer incarnation of an alive node → suspect",
    onSuspect,
    k("alive", 3),
    4,
    other,
    "update:suspect",
  ],
  ["suspect: already suspect → confirmation", onSuspect, k("suspect", 3), 3, other, "confirm"],
  [
    "suspect: already suspect at an older incarnation → new suspicion",
    onSuspect,
    k("suspect", 3),
    4,
    other,
    "update:suspect",
  ],
  ["suspect: dead node → ignored", onSuspect, k("dead", 3), 3, other, "ignore"],
  ["suspect: leave node → ignored", onSuspect, k("leave", 3), 3, other, "ignore"],
  [
    "suspect: leave node at a newer incarnation (came back) → suspect",
    onSuspect,
    k("leave", 3),
    4,
    other,
    "update:suspect",
  ],
  ["suspect: about me → refuted with incarnation + 1", onSuspect, k("alive", 5), 5, me, "refute:6"],
  ["suspect: about me at an older incarnation → ignored", onSuspect, k("alive", 5), 4, me, "ignore"],
  ["suspect: about me while leaving → ignored", onSuspect, k("leave", 5), 5, meLeaving, "ignore"],
  // dead
  ["dead: unknown uuid → ignored", onDead, undefined, 1, other, "ignore"],
  ["dead: older incarnation → ignored", onDead, k("suspect", 3), 2, other, "ignore"],
  ["dead: suspect node → dead", onDead, k("suspect", 3), 3, other, "update:dead"],
  ["dead: alive node → dead", onDead, k("alive", 3), 3, other, "update:dead"],
  ["dead: already dead → ignored", onDead, k("dead", 3), 3, other, "ignore"],
  ["dead: leave node stays leave", onDead, k("leave", 3), 3, other, "ignore"],
  [
    "dead: leave node at a newer incarnation (came back, crashed) → dead",
    onDead,
    k("leave", 3),
    4,
    other,
    "update:dead",
  ],
  ["dead: about me → refuted", onDead, k("alive", 5), 5, me, "refute:6"],
  ["dead: about me at an older incarnation → ignored", onDead, k("alive", 5), 1, me, "ignore"],
  ["dead: about me while leaving → ignored", onDead, k("leave", 5), 5, meLeaving, "ignore"],
  // leave
  ["leave: unknown uuid → ignored", onLeave, undefined, 1, other, "ignore"],
  ["leave: already leave → ignored", onLeave, k("leave", 3), 4, other, "ignore"],
  ["leave: older incarnation → ignored", onLeave, k("alive", 3), 2, other, "ignore"],
  ["leave: alive node → leave", onLeave, k("alive", 3), 3, other, "update:leave"],
  ["leave: dead node → leave", onLeave, k("dead", 3), 3, other, "update:leave"],
  [
    "leave: about me at my incarnation → refuted (a message never makes us leave)",
    onLeave,
    k("alive", 5),
    5,
    me,
    "refute:6",
  ],
  ["leave: about me while leaving → ignored", onLeave, k("leave", 5), 5, meLeaving, "ignore"],
  ["leave: about me at an older incarnation → ignored", onLeave, k("alive", 5), 4, me, "ignore"],
  ["leave: about me at a newer incarnation → refuted", onLeave, k("alive", 5), 6, me, "refute:7"],
];

for (const [name, rule, known, inc, self, expected] of ROWS) {
  Deno.test(`state rule — ${name}`, () => {
    const v = rule(known, inc, self);
    const got = v.action === "insert" || v.action === "update"
      ? `${v.action}:${v.state}`
      : v.action === "refute"
      ? `refute:${v.incarnation}`
      : v.action;
    assert.equal(got, expected);
  });
}

Deno.test("suspicion timeout: declares dead only if still suspect at the same incarnation", () => {
  assert.deepEqual(onSuspicionTimeout(k("suspect", 3), 3), { action: "update", state: "dead" });
  assert.equal(onSuspicionTimeout(k("suspect", 4), 3).action, "ignore");
  assert.equal(onSuspicionTimeout(k("alive", 4), 3).action, "ignore");
  assert.equal(onSuspicionTimeout(undefined, 3).action, "ignore");
});
