/**
 * `kunai raft state [GROUP] [--json]` and `kunai raft is-leader GROUP` (exit 0 when this node
 * leads GROUP, 1 when it does not: for scripts, no KV involved).
 */
import { type AgentClient, AgentHttpError } from "../lib/client/mod.ts";
import type { Output } from "./output.ts";
import { type CommandGroup, UsageError } from "./types.ts";

interface GroupView {
  group: string;
  self: string;
  member: boolean;
  role: string;
  term: number;
  leader: string | null;
  leader_name: string | null;
  quorum: number;
  voters_detail: Array<{ uuid: string; name: string; state: string }>;
  waiting_for_join?: boolean;
}

/** One group, readable; a group no node votes in says which tag is missing (the group's name). */
export function show(out: Output, g: GroupView): void {
  const tag = `the tag ${JSON.stringify(g.group)}`;
  out.title(`RAFT group ${g.group}`);
  out.twoCol("role", g.member ? g.role : `not a member (this node does not carry ${tag})`, {
    colour: g.role === "leader" ? "green" : undefined,
  });
  out.twoCol("term", String(g.term));
  out.twoCol("leader", g.leader_name ?? g.leader ?? "(none)", { colour: g.leader ? "green" : "red" });
  const n = g.voters_detail.length;
  out.twoCol("quorum", `${g.quorum} of ${n} voter(s)${n < g.quorum ? ": no leader can be elected" : ""}`, {
    colour: n < g.quorum ? "red" : undefined,
  });
  out.twoCol(
    "voters",
    n ? g.voters_detail.map((v) => `${v.name}(${v.state})`).join(" ") : `(none: no node carries ${tag})`,
  );
  if (g.waiting_for_join) {
    out.twoCol("elections", "none of ours until this agent has joined the cluster (its seeds)", {
      colour: "yellow",
    });
  }
}

const path = (g: string) => `/raft/${encodeURIComponent(g)}`;

/** The agent has no /raft routes when no group is configured: a 404 of the router, not of a group. */
function noRaft(err: unknown): boolean {
  return err instanceof AgentHttpError && err.status === 404 && !/RAFT group/.test(err.body);
}

/** GET a raft route; a missing route means no group is configured here (null), a missing group stays an error. */
async function getRaft<T>(c: AgentClient, route: string): Promise<T | null> {
  try {
    return await c.json<T>("GET", route);
  } catch (err) {
    if (noRaft(err)) return null;
    throw err;
  }
}

const NONE = "no RAFT group configured on this agent (raft.groups)";

export const raftCommands: CommandGroup = {
  group: "raft",
  description: "RAFT leader elections per group of nodes",
  commands: [
    {
      name: "state",
      description: "role, term, leader and voters of every group (or one)",
      args: ["[group]"],
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options, positionals }) {
        const g = positionals[0];
        let groups: Record<string, GroupView>;
        if (g) {
          const v = await getRaft<GroupView>(client(), path(g));
          if (!v) {
            throw new UsageError(
              `no RAFT group ${JSON.stringify(g)}: this agent has none configured (raft.groups)`,
            );
          }
          groups = { [g]: v };
        } else groups = (await getRaft<Record<string, GroupView>>(client(), "/raft")) ?? {};
        if (options.json) {
          out.json(g ? groups[g] : groups);
          return 0;
        }
        if (!Object.keys(groups).length) out.line(NONE);
        for (const v of Object.values(groups)) show(out, v);
        return 0;
      },
    },
    {
      name: "is-leader",
      description: "exit 0 when this node is the leader of GROUP, 1 when it is not",
      args: ["<group>"],
      async run({ client, out, positionals }) {
        const g = positionals[0];
        if (!g) throw new UsageError("missing group");
        try {
          const v = await client().json<GroupView>("GET", path(g));
          const yes = v.role === "leader" && v.leader === v.self;
          out.line(yes ? "yes" : "no");
          return yes ? 0 : 1;
        } catch (err) {
          if (noRaft(err)) {
            throw new UsageError(
              `no RAFT group ${JSON.stringify(g)}: this agent has none configured (raft.groups)`,
            );
          }
          if (err instanceof AgentHttpError && err.status === 404) throw new UsageError(err.message);
          throw err;
        }
      },
    },
  ],
};
