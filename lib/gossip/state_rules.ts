/**
 * The incarnation rules of reference §3.4 as pure functions: given what we know of a node and a
 * message about it, what to do. No timers, no I/O; the membership table applies the verdict.
 *
 * Differences from the original (its quirks fixed, memberlist semantics):
 * - a `dead` message marks the node dead (the original treated it as `suspect`);
 * - an `alive` about ourselves with a higher incarnation than ours is refuted (data dir lost);
 * - a suspicion of an already suspect node at the same incarnation is a Lifeguard confirmation
 *   instead of being ignored; at a higher incarnation it restarts the suspicion (the node refuted
 *   the old one, and the refutation may have been overtaken by the new suspicion);
 * - a `suspect` or `dead` at a newer incarnation than a `leave` we hold applies: the node came back
 *   after leaving (a restart takes a newer incarnation) and we missed that life; kept at `leave`,
 *   we would be the one node holding it left once the others saw it crash;
 * - a `leave` about ourselves is refuted like a suspicion: no gossip message ever makes an agent
 *   leave or exit (the original exited on a `leave` at its incarnation, so one spoofed datagram
 *   stopped an unencrypted agent). Only the local API (socket or token) makes us leave.
 *
 * Incarnations are bounded (see riseOf): without a key anyone may send claims, and the original let
 * one claim at 2^53 - 1 push a node past what any peer decodes, so it could never refute again.
 */
import type { MemberState } from "../types.ts";
import { INCARNATION_MAX } from "../types.ts";

/**
 * A rise of a known node's incarnation up to this is taken at once: a node's own updates, the few
 * a peer missed, a refutation. Climbing by such steps to INCARNATION_MAX takes 2^42 messages.
 */
export const SMALL_RISE = 1024;
/**
 * A larger rise of our own incarnation (a claim about us far above it: our data dir was lost, or a
 * forgery) is taken at most once per SELF_RISE_GAP ms, by at most SELF_RISE_MAX: reaching the
 * ceiling takes 2^20 minutes, and a peer holding us far above us is caught up with step by step.
 */
export const SELF_RISE_MAX = 2 ** 32;
export const SELF_RISE_GAP = 60_000;
/**
 * A larger rise of another known node's incarnation: at most once per OTHER_RISE_GAP ms, and by at
 * most OTHER_RISE_MAX in one message (more is refused). Looser than our own limit (four times as
 * much, twice as often) so every rise a node really makes under SELF_RISE_* is taken by its peers,
 * even one of two rises whose first was lost.
 */
export const OTHER_RISE_MAX = 2 ** 34;
export const OTHER_RISE_GAP = 30_000;

/**
 * What a claim at incarnation `claimed` may do to a known node we hold at `held` (`self`: the node is
 * us), the last larger rise of its record `sinceBigMs` ago: `small` and `big` apply (a `big` one
 * about us rises at most SELF_RISE_MAX, see refuteTarget), `too-soon` and `too-far` are refused.
 */
export function riseOf(
  held: number,
  claimed: number,
  sinceBigMs: number,
  self: boolean,
): "small" | "big" | "too-soon" | "too-far" {
  const rise = claimed - held;
  if (rise <= SMALL_RISE) return "small";
  if (sinceBigMs < (self ? SELF_RISE_GAP : OTHER_RISE_GAP)) return "too-soon";
  if (!self && rise > OTHER_RISE_MAX) return "too-far";
  return "big";
}

/**
 * The incarnation we refute at: the rule's answer, at most SELF_RISE_MAX above ours (a claim further
 * up is followed over several minutes), never above INCARNATION_MAX (what every peer decodes).
 */
export function refuteTarget(ours: number, wanted: number): number {
  return Math.min(wanted, ours + SELF_RISE_MAX, INCARNATION_MAX);
}

/** What we know about the node the message is about (undefined = unknown uuid). */
export interface Known {
  state: MemberState;
  incarnation: number;
}

/** The facts a rule needs about ourselves. */
export interface SelfFacts {
  /** The message is about our own uuid. */
  isSelf: boolean;
  /** Our current incarnation. */
  incarnation: number;
  /** We are leaving: no refutation any more. */
  leaving: boolean;
}

export type Verdict =
  /** `refused`: a rise of the incarnation the limits above refuse (counted and said, never answered). */
  | { action: "ignore"; reason: string; refused?: true }
  /** New node: insert it with the message's state. */
  | { action: "insert"; state: MemberState }
  /** Replace our record's state and incarnation; re-broadcast the message. */
  | { action: "update"; state: MemberState }
  /** Another independent suspicion of a node we already suspect. */
  | { action: "confirm" }
  /** About us and wrong: bump our incarnation to `incarnation` and broadcast alive. */
  | { action: "refute"; incarnation: number };

const ignore = (reason: string): Verdict => ({ action: "ignore", reason });

/**
 * `alive` message (or an alive record from push-pull). `strong` = the node itself just answered
 * us over a stream (push-pull), which proves it alive even at an incarnation we hold as
 * suspect or dead (the reference's "strong alive"; heals partitions).
 */
export function onAlive(known: Known | undefined, inc: number, self: SelfFacts, strong = false): Verdict {
  if (self.isSelf) {
    if (!self.leaving && inc > self.incarnation) return { action: "refute", incarnation: inc + 1 };
    return ignore("about ourselves");
  }
  if (!known) return { action: "insert", state: "alive" };
  if (known.state === "leave" && inc <= known.incarnation) {
    return ignore("leave is sticky until a newer incarnation");
  }
  if (inc > known.incarnation) return { action: "update", state: "alive" };
  if (strong && inc === known.incarnation && (known.state === "suspect" || known.state === "dead")) {
    return { action: "update", state: "alive" };
  }
  return ignore("not newer than what we know");
}

/** `suspect` message. */
export function onSuspect(known: Known | undefined, inc: number, self: SelfFacts): Verdict {
  if (!known) return ignore("unknown node");
  if (self.isSelf) {
    if (self.leaving) return ignore("we are leaving");
    if (inc < self.incarnation) return ignore("older incarnation of ourselves");
    return { action: "refute", incarnation: Math.max(inc, self.incarnation) + 1 };
  }
  if (inc < known.incarnation) return ignore("older incarnation");
  // a suspicion at a newer incarnation is a new suspicion (the node refuted the old one)
  if (known.state === "suspect") {
    return inc === known.incarnation ? { action: "confirm" } : { action: "update", state: "suspect" };
  }
  if (known.state === "alive" || (known.state === "leave" && inc > known.incarnation)) {
    return { action: "update", state: "suspect" };
  }
  return ignore(`already ${known.state}`);
}

/** `dead` message (a peer's suspicion timer expired). */
export function onDead(known: Known | undefined, inc: number, self: SelfFacts): Verdict {
  if (!known) return ignore("unknown node");
  if (self.isSelf) {
    if (self.leaving) return ignore("we are leaving");
    if (inc < self.incarnation) return ignore("older incarnation of ourselves");
    return { action: "refute", incarnation: Math.max(inc, self.incarnation) + 1 };
  }
  if (inc < known.incarnation) return ignore("older incarnation");
  if (known.state === "dead" || (known.state === "leave" && inc === known.incarnation)) {
    return ignore(`already ${known.state}`);
  }
  return { action: "update", state: "dead" };
}

/** `leave` message. */
export function onLeave(known: Known | undefined, inc: number, self: SelfFacts): Verdict {
  if (!known) return ignore("unknown node");
  if (self.isSelf) {
    if (self.leaving) return ignore("we are leaving");
    if (inc < self.incarnation) return ignore("older incarnation of ourselves");
    return { action: "refute", incarnation: Math.max(inc, self.incarnation) + 1 };
  }
  if (known.state === "leave") return ignore("already leave");
  if (inc < known.incarnation) return ignore("older incarnation");
  return { action: "update", state: "leave" };
}

/** Local decision: the suspicion timer of a node expired. */
export function onSuspicionTimeout(known: Known | undefined, suspectedInc: number): Verdict {
  if (!known || known.state !== "suspect") return ignore("no longer suspect");
  if (known.incarnation !== suspectedInc) return ignore("refuted meanwhile");
  return { action: "update", state: "dead" };
}
