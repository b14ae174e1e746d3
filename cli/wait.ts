/**
 * `kunai wait members|check|tag|key|leader|event`: block until the agent reports a state, for provisioning
 * scripts (`systemctl start kunai && kunai wait members 3 && ...`), as opsbro's `gossip wait-members`,
 * `monitoring wait-ok`, `detectors wait-group` and `kv-store wait-exists` did. Polls the agent's read
 * routes every `--every` (250 ms); exit 0 once the condition holds, 1 at `--timeout` (60 s) with what
 * was seen last, 2 for a usage error. An agent that does not answer yet (still starting) counts as
 * "not yet".
 */
import { type AgentClient, AgentHttpError, AgentUnreachable } from "../lib/client/mod.ts";
import { parseDuration } from "../lib/clock/mod.ts";
import { resolveCheckId } from "./checks.ts";
import type { MemberRecord } from "../lib/types.ts";
import type { OptionSpec } from "./types.ts";
import { type CommandGroup, type CommandSpec, UsageError } from "./types.ts";

/** One look at the agent: whether the condition holds, and what was seen (for the final line). */
interface Probe {
  done: boolean;
  seen: string;
}

const TIMING: Record<string, OptionSpec> = {
  timeout: { type: "string", description: "give up after this long (default 60s)" },
  every: { type: "string", description: "time between two looks (default 250ms)" },
  json: { type: "boolean", description: "JSON output: {satisfied, waited_s, seen}" },
};

const STATES = ["ok", "warning", "critical", "unknown"];

function duration(v: unknown, flag: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const ms = parseDuration(v);
  if (ms === null || ms < min || ms > 7 * 86_400_000) {
    throw new UsageError(
      `--${flag}: expected a duration such as 30s or 500ms (at least ${min} ms), got ${v}`,
    );
  }
  return ms;
}

/** Thrown by beforeDeadline: --timeout passed while the agent was being asked. */
class DeadlineReached extends Error {}

/** `p`, or DeadlineReached once `deadline` (performance.now() time) passes first. */
function beforeDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineReached()), Math.max(0, deadline - performance.now()));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Looks every `every` ms until `probe` says done or `timeout` passes; prints the outcome. A probe
 * may throw UsageError (the question itself is wrong: stop at once).
 */
async function waitFor(
  ctx: Parameters<CommandSpec["run"]>[0],
  what: string,
  probe: (c: AgentClient) => Promise<Probe>,
): Promise<number> {
  const { options, out, client } = ctx;
  const timeout = duration(options.timeout, "timeout", 60_000, 0);
  const every = duration(options.every, "every", 250, 10);
  const start = performance.now();
  let seen = "nothing yet";
  while (true) {
    try {
      // an agent that takes the connection and never answers must not hold us past --timeout
      const p = await beforeDeadline(probe(client()), start + timeout);
      seen = p.seen;
      if (p.done) {
        const waited = (performance.now() - start) / 1000;
        if (options.json) out.json({ satisfied: true, waited_s: waited, seen });
        else out.line(`${what}: ${seen} (after ${waited.toFixed(1)} s)`);
        return 0;
      }
    } catch (err) {
      if (err instanceof DeadlineReached) {
        // what an earlier answer said stays the last thing seen
        if (seen === "nothing yet") seen = "the agent does not answer (no answer before --timeout)";
        break;
      }
      if (err instanceof UsageError) throw err;
      if (!(err instanceof AgentUnreachable)) throw err;
      seen = `the agent does not answer (${err.message})`;
    }
    const left = start + timeout - performance.now();
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(every, left)));
  }
  const waited = (performance.now() - start) / 1000;
  if (options.json) out.json({ satisfied: false, waited_s: waited, seen });
  else out.error(`kunai: timed out after ${waited.toFixed(1)} s waiting for ${what}; last seen: ${seen}`);
  return 1;
}

function oneArg(positionals: string[], name: string, example: string): string {
  if (!positionals[0]) throw new UsageError(`missing ${name}, e.g. ${example}`);
  if (positionals.length > 1) throw new UsageError(`one ${name} expected, got ${positionals.length} words`);
  return positionals[0];
}

const members: CommandSpec = {
  name: "members",
  description: "wait until this agent sees at least N members (alive, or --state) [with --tag T]",
  args: ["<N>"],
  options: {
    state: { type: "string", description: "member state counted: alive (default), suspect, dead, leave" },
    tag: { type: "string", description: "count only members having this tag" },
    ...TIMING,
  },
  run(ctx) {
    const raw = oneArg(ctx.positionals, "member count", "kunai wait members 3");
    if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1) {
      throw new UsageError(`<N>: expected a count >= 1, got ${raw}`);
    }
    const n = Number(raw);
    const state = (ctx.options.state as string | undefined) ?? "alive";
    if (!["alive", "suspect", "dead", "leave"].includes(state)) {
      throw new UsageError(`--state: expected alive, suspect, dead or leave, got ${state}`);
    }
    const tag = ctx.options.tag as string | undefined;
    const what = `${n} ${state} member(s)${tag ? ` tagged ${tag}` : ""}`;
    return waitFor(ctx, what, async (c) => {
      const all = Object.values(await c.json<Record<string, MemberRecord>>("GET", "/agent/members"));
      const hit = all.filter((m) => m.state === state && (!tag || (m.tags ?? []).includes(tag)));
      const names = hit.map((m) => m.name).sort();
      const list = names.length > 8 ? `${names.slice(0, 8).join(", ")}...` : names.join(", ");
      return { done: hit.length >= n, seen: `${hit.length} ${state}${list ? ` (${list})` : ""}` };
    });
  },
};

const check: CommandSpec = {
  name: "check",
  description: "wait until a check (id, its last path part, or a service name) is in a state (default ok)",
  args: ["<check>"],
  options: {
    state: { type: "string", description: "ok (default), warning, critical or unknown" },
    ...TIMING,
  },
  run(ctx) {
    const name = oneArg(ctx.positionals, "check", "kunai wait check linux/cpu");
    const state = ((ctx.options.state as string | undefined) ?? "ok").toLowerCase();
    if (!STATES.includes(state)) throw new UsageError(`--state: expected ${STATES.join(", ")}, got ${state}`);
    return waitFor(ctx, `check ${name} ${state.toUpperCase()}`, async (c) => {
      const checks = await c.json<Record<string, { state: string; output?: string; active?: boolean }>>(
        "GET",
        "/agent/checks",
      );
      const ids = Object.keys(checks);
      const id = resolveCheckId(ids, name);
      if (!id) {
        throw new UsageError(
          `no check ${name} on this agent; its checks: ${ids.sort().join(", ") || "none"}`,
        );
      }
      const ck = checks[id];
      const first = String(ck.output ?? "").split("\n")[0].slice(0, 120);
      const seen = `${id} is ${ck.state.toUpperCase()}${ck.active === false ? " (inactive here)" : ""}` +
        (first ? `: ${first}` : "");
      return { done: ck.state === state, seen };
    });
  },
};

const tag: CommandSpec = {
  name: "tag",
  description: "wait until this node has a tag (from its configuration or a detector)",
  args: ["<tag>"],
  options: { ...TIMING },
  run(ctx) {
    const t = oneArg(ctx.positionals, "tag", "kunai wait tag redis");
    return waitFor(ctx, `tag ${t}`, async (c) => {
      const info = await c.json<{ tags?: string[] }>("GET", "/agent/info");
      const tags = info.tags ?? [];
      return { done: tags.includes(t), seen: `tags ${tags.join(",") || "(none)"}` };
    });
  },
};

const key: CommandSpec = {
  name: "key",
  description: "wait until a KV key exists",
  args: ["<key>"],
  options: { ...TIMING },
  run(ctx) {
    const k = oneArg(ctx.positionals, "key", "kunai wait key app/config");
    const path = `/kv/${k.split("/").map(encodeURIComponent).join("/")}?meta`;
    return waitFor(ctx, `key ${k}`, async (c) => {
      try {
        const meta = await c.json<{ modify_index?: number }>("GET", path);
        return { done: true, seen: `${k} exists (index ${meta.modify_index ?? "?"})` };
      } catch (err) {
        if (err instanceof AgentHttpError && err.status === 404) {
          return { done: false, seen: `${k} does not exist` };
        }
        // no replica answers (503): not yet
        if (err instanceof AgentHttpError && err.status >= 500) {
          return { done: false, seen: err.body.slice(0, 160) };
        }
        throw err;
      }
    });
  },
};

const leader: CommandSpec = {
  name: "leader",
  description: "wait until a RAFT group has a leader (any node)",
  args: ["<group>"],
  options: { ...TIMING },
  run(ctx) {
    const g = oneArg(ctx.positionals, "group", "kunai wait leader db");
    return waitFor(ctx, `a leader of RAFT group ${g}`, async (c) => {
      try {
        const v = await c.json<{ leader: string | null; leader_name: string | null; term: number }>(
          "GET",
          `/raft/${encodeURIComponent(g)}`,
        );
        return {
          done: v.leader !== null,
          seen: v.leader
            ? `leader ${v.leader_name ?? v.leader}, term ${v.term}`
            : `no leader (term ${v.term})`,
        };
      } catch (err) {
        if (err instanceof AgentHttpError && err.status === 404) {
          throw new UsageError(
            /RAFT group/.test(err.body)
              ? `no RAFT group ${g} on this agent`
              : "no RAFT group is configured here",
          );
        }
        throw err;
      }
    });
  },
};

const event: CommandSpec = {
  name: "event",
  description: "wait for a cluster event (`kunai event send`) received from now on (or within --since)",
  args: ["<name>"],
  options: {
    since: { type: "string", description: "an event received this long ago also counts (e.g. 5m)" },
    ...TIMING,
  },
  run(ctx) {
    const name = oneArg(ctx.positionals, "event name", "kunai wait event deploy-done");
    const sinceMs = duration(ctx.options.since, "since", 0, 0);
    // the events logged before the first look are the baseline: only a new one counts (no clock
    // compared, so it works against an agent of another host), or with --since one received within it
    let baseline: Set<string> | null = null;
    const cutoff = Date.now() - sinceMs;
    return waitFor(ctx, `event ${name}`, async (c) => {
      const events = await c.json<
        Array<{ id: string; name: string; from: string; payload: string; received: number }>
      >("GET", `/agent/events?name=${encodeURIComponent(name)}`);
      const before = baseline ??= new Set(events.map((e) => e.id));
      const hit = events.filter((e) => !before.has(e.id) || (sinceMs > 0 && e.received >= cutoff)).pop();
      if (!hit) return { done: false, seen: `no ${name} event since the wait began` };
      return { done: true, seen: `from ${hit.from}, payload ${JSON.stringify(hit.payload.slice(0, 200))}` };
    });
  },
};

export const waitCommands: CommandGroup = {
  group: "wait",
  description: "block until the cluster or this node reaches a state (for scripts)",
  commands: [members, check, tag, key, leader, event],
};
