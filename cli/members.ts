/**
 * Cluster membership commands: `kunai members`, `kunai join ADDR[:PORT]`, `kunai leave [NAME]`,
 * `kunai keys list|install|use|remove` (gossip encryption keyring, cluster-wide).
 */
import { AgentHttpError } from "../lib/client/mod.ts";
import type { MemberRecord } from "../lib/types.ts";
import { STATE_COLOURS } from "./output.ts";
import type { Output } from "./output.ts";
import { type CommandGroup, UsageError } from "./types.ts";

/** Prints members with the reference layout (§1): per zone, sorted by name. */
export function printMembers(out: Output, members: MemberRecord[]): void {
  if (!members.length) {
    out.line("No members");
    return;
  }
  const byZone = new Map<string, MemberRecord[]>();
  for (const m of members) {
    const z = m.zone ?? "";
    byZone.set(z, [...byZone.get(z) ?? [], m]);
  }
  const nameWidth = Math.max(...members.map((m) => m.name.length));
  const addrWidth = Math.max(...members.map((m) => `${m.addr}:${m.port}`.length));
  for (const zone of [...byZone.keys()].sort()) {
    out.line(`Zone: [${out.paint((zone || "(no zone)").padEnd(15), "magenta")}]`);
    const list = byZone.get(zone)!.sort((a, b) => a.name.localeCompare(b.name));
    for (const m of list) {
      const state = out.paint(m.state.padEnd(7), STATE_COLOURS[m.state]);
      out.line(
        `\t${m.name.padEnd(nameWidth)}  ${state} ${`${m.addr}:${m.port}`.padEnd(addrWidth)}  ${
          (m.tags ?? []).join(",")
        }`,
      );
    }
  }
}

const members: CommandGroup = {
  group: "members",
  description: "list the cluster members",
  commands: [{
    name: "",
    description: "list the cluster members (state, address, tags)",
    options: {
      json: { type: "boolean", description: "JSON output ({uuid: record})" },
      tag: { type: "string", description: "only members having this tag" },
      state: { type: "string", description: "only members in this state (alive, suspect, dead, leave)" },
    },
    async run({ out, options, client }) {
      const all = await client().json<Record<string, MemberRecord>>("GET", "/agent/members");
      const tag = options.tag as string | undefined;
      const state = options.state as string | undefined;
      if (state && !["alive", "suspect", "dead", "leave"].includes(state)) {
        throw new UsageError(`--state must be alive, suspect, dead or leave (got ${JSON.stringify(state)})`);
      }
      const picked = Object.entries(all).filter(([, m]) =>
        (!tag || (m.tags ?? []).includes(tag)) && (!state || m.state === state)
      );
      if (options.json) out.json(Object.fromEntries(picked));
      else printMembers(out, picked.map(([, m]) => m));
      return 0;
    },
  }],
};

const join: CommandGroup = {
  group: "join",
  description: "join a cluster through one of its nodes",
  commands: [{
    name: "",
    description: "join the cluster of the node at ADDR[:PORT] (one push-pull)",
    args: ["<addr[:port]>"],
    options: { json: { type: "boolean", description: "JSON output" } },
    async run({ out, options, positionals, client }) {
      const seed = positionals[0];
      if (!seed) throw new UsageError("Missing target argument. For example 192.168.0.1:6768");
      const ok = await client().json<boolean>("POST", `/agent/join/${encodeURIComponent(seed)}`);
      if (options.json) out.json({ seed, joined: ok });
      else out.line(`Joining ${seed} : ${ok ? out.paint("OK", "green") : out.paint("FAILED", "red")}`);
      return ok ? 0 : 1;
    },
  }],
};

const leave: CommandGroup = {
  group: "leave",
  description: "make a node (default: this one) leave the cluster",
  commands: [{
    name: "",
    description:
      "set a node to leave state (this agent then exits; another live node refutes it); needs the socket or the token",
    args: ["[name]"],
    options: { json: { type: "boolean", description: "JSON output" } },
    async run({ out, options, positionals, client }) {
      const c = client();
      const name = positionals[0] ?? (await c.text("GET", "/agent/name")).trim();
      try {
        await c.text("POST", `/agent/leave/${encodeURIComponent(name)}`);
      } catch (err) {
        if (err instanceof AgentHttpError && err.status === 404) {
          if (options.json) out.json({ name, left: false, error: "missing" });
          else out.error(`Node ${name} is missing`);
          return 1;
        }
        throw err;
      }
      if (options.json) out.json({ name, left: true });
      else out.line(`Node ${name} is set to leave state: ${out.paint("OK", "green")}`);
      return 0;
    },
  }],
};

interface KeysAnswer {
  enabled: boolean;
  primary: string | null;
  keys: string[];
}

function keyOp(op: "install" | "use" | "remove", what: string): CommandGroup["commands"][number] {
  return {
    name: op,
    description: what,
    args: ["<key>"],
    options: { json: { type: "boolean", description: "JSON output" } },
    async run({ out, options, positionals, client }) {
      const key = positionals[0];
      if (!key) throw new UsageError("missing key (base64; `kunai keygen` makes one)");
      const r = await client().json<KeysAnswer>("POST", `/agent/keys/${op}`, { key });
      if (options.json) out.json(r);
      else out.line(`${op} ${key.slice(0, 6)}…: ${out.paint("OK", "green")} (sent to the whole cluster)`);
      return 0;
    },
  };
}

const keys: CommandGroup = {
  group: "keys",
  description: "manage the gossip encryption keyring across the cluster",
  commands: [
    {
      name: "list",
      description: "list the keys installed on this agent (primary first)",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ out, options, client }) {
        const r = await client().json<KeysAnswer>("GET", "/agent/keys");
        if (options.json) {
          out.json(r);
          return 0;
        }
        out.title("Keyring");
        if (!r.enabled) {
          out.twoCol("encryption", "off", { colour: "grey" });
          return 0;
        }
        for (const k of r.keys) {
          out.twoCol(k === r.primary ? "primary" : "key", k, {
            colour: k === r.primary ? "green" : undefined,
          });
        }
        return 0;
      },
    },
    keyOp("install", "install a key on every member (accepted for receiving)"),
    keyOp("use", "make an installed key the primary (used for sending) on every member"),
    keyOp("remove", "remove a non-primary key from every member"),
  ],
};

export const membersCommands: CommandGroup = members;
export const joinCommands: CommandGroup = join;
export const leaveCommands: CommandGroup = leave;
export const keysCommands: CommandGroup = keys;
