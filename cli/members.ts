/**
 * Cluster membership commands: `kunai members`, `kunai join ADDR[:PORT]`, `kunai leave [NAME]`, `kunai ping NODE`,
 * `kunai keys list|install|use|remove` (gossip encryption keyring, cluster-wide).
 */
import { AgentHttpError } from "../lib/client/mod.ts";
import { JOIN_ERROR_HEADER, type MemberRecord } from "../lib/types.ts";
import { cellText, STATE_COLOURS } from "./output.ts";
import type { Output } from "./output.ts";
import { type CommandGroup, refused, UsageError } from "./types.ts";
import { durationOpt } from "./lock_kv.ts";
import { hostPort } from "../lib/host_port.ts";

/** A member record for output: services without fields naming local files (`from: file:...`, `file`). */
export function publicRecord(m: MemberRecord): MemberRecord {
  const services: Record<string, unknown> = {};
  for (const [name, svc] of Object.entries(m.services ?? {})) {
    if (svc && typeof svc === "object") {
      const { file: _file, from, ...rest } = svc as Record<string, unknown>;
      services[name] = typeof from === "string" && from.startsWith("file:") ? rest : { ...rest, from };
    } else services[name] = svc;
  }
  return { ...m, services };
}

/**
 * Left-aligned columns, each as wide as its widest cell (colour codes do not count). Cells hold what
 * other agents sent (names, tags, addresses): each stays on its line, a newline or control character
 * in one shown as `\u00XX` rather than starting a row of its own.
 */
export function alignRows(
  cells: string[][],
  paint?: (row: number, col: number, cell: string) => string,
): string[] {
  const rows = cells.map((r) => r.map((c) => cellText(String(c))));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r, ri) =>
    r.map((c, i) => {
      const padded = i === r.length - 1 ? c : c.padEnd(widths[i]);
      return paint ? paint(ri, i, c) + padded.slice(c.length) : padded;
    }).join("  ").trimEnd()
  );
}

function regexOption(v: unknown, flag: string): RegExp | null {
  if (typeof v !== "string") return null;
  try {
    return new RegExp(v);
  } catch (err) {
    throw new UsageError(`${flag}: invalid regular expression: ${(err as Error).message}`);
  }
}

/** Prints members as a table with a header row (Serf/Consul style), sorted by name. */
export function printMembers(out: Output, members: MemberRecord[], detailed = false): void {
  const head = detailed
    ? ["Node", "Address", "Status", "Zone", "Tags", "Uuid", "Incarnation", "Services"]
    : ["Node", "Address", "Status", "Zone", "Tags"];
  const rows = members.map((m) => {
    const state = m.maintenance ? `${m.state} (maintenance)` : m.state;
    const base = [m.name, hostPort(m.addr, m.port), state, m.zone || "-", (m.tags ?? []).join(",") || "-"];
    if (!detailed) return base;
    return [...base, m.uuid, String(m.incarnation), Object.keys(m.services ?? {}).sort().join(",") || "-"];
  });
  const lines = alignRows([head, ...rows], (ri, ci, cell) => {
    if (ri === 0) return out.paint(cell, "bold");
    return ci === 2 ? out.paint(cell, STATE_COLOURS[cell.split(" ")[0]]) : cell;
  });
  for (const l of lines) out.line(l);
}

const members: CommandGroup = {
  group: "members",
  description: "list the cluster members",
  commands: [{
    name: "",
    description: "list the cluster members (name, address, status, zone, tags)",
    options: {
      json: { type: "boolean", description: "JSON array of member records, sorted by name" },
      detailed: { type: "boolean", description: "also uuid, incarnation and services" },
      status: { type: "string", description: "only members whose status matches this REGEX (alive|suspect)" },
      name: { type: "string", description: "only members whose name matches this REGEX" },
      tag: { type: "string", description: "only members having this tag" },
    },
    async run({ out, options, client }) {
      const status = regexOption(options.status, "--status");
      const name = regexOption(options.name, "--name");
      const tag = options.tag as string | undefined;
      const all = await client().json<Record<string, MemberRecord>>("GET", "/agent/members");
      const picked = Object.values(all)
        .filter((m) =>
          (!tag || (m.tags ?? []).includes(tag)) && (!status || status.test(m.state)) &&
          (!name || name.test(m.name))
        )
        .sort((a, b) => a.name.localeCompare(b.name))
        .map(publicRecord);
      if (options.json) out.json(picked);
      else if (!picked.length) out.line("No members");
      else printMembers(out, picked, !!options.detailed);
      return 0;
    },
  }, {
    name: "history",
    description: "membership changes this agent saw (joined, suspect, dead, left, reaped), newest first",
    args: ["[node]"],
    options: {
      limit: { type: "string", description: "most changes shown (default 50, at most 10000)" },
      json: {
        type: "boolean",
        description: "JSON array of {ts (epoch ms), uuid, name, addr, change, incarnation}",
      },
    },
    async run({ out, options, positionals, client }) {
      const limit = String(options.limit ?? "50");
      if (!/^\d{1,5}$/.test(limit) || +limit < 1 || +limit > 10_000) {
        throw new UsageError(`--limit: expected 1-10000, got ${limit}`);
      }
      const q = new URLSearchParams({ limit });
      if (positionals[0]) q.set("node", positionals[0]);
      let rows: Array<{ ts: number; name: string; addr: string; change: string; incarnation: number }>;
      try {
        rows = await client().json("GET", `/agent/members/history?${q}`);
      } catch (err) {
        return refused(out, err, "no history");
      }
      if (options.json) out.json(rows);
      else if (!rows.length) out.line(positionals[0] ? `No changes of ${positionals[0]}` : "No changes");
      else {
        const colour: Record<string, string> = {
          joined: "alive",
          suspect: "suspect",
          dead: "dead",
          left: "leave",
        };
        const lines = alignRows(
          [
            ["Time (UTC)", "Node", "Address", "Change", "Incarnation"],
            ...rows.map((r) => [
              new Date(r.ts).toISOString().replace("T", " ").slice(0, 23),
              r.name,
              r.addr,
              r.change,
              String(r.incarnation),
            ]),
          ],
          (ri, ci, cell) =>
            ri === 0
              ? out.paint(cell, "bold")
              : ci === 3
              ? out.paint(cell, STATE_COLOURS[colour[cell] ?? ""])
              : cell,
        );
        for (const l of lines) out.line(l);
      }
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
      const r = await client().jsonWithHeaders<boolean>("POST", `/agent/join/${encodeURIComponent(seed)}`);
      const ok = r.value === true;
      const reason = ok ? null : r.headers.get(JOIN_ERROR_HEADER);
      if (options.json) out.json(reason ? { seed, joined: ok, error: reason } : { seed, joined: ok });
      else {
        out.line(
          `Joining ${seed} : ${ok ? out.paint("OK", "green") : out.paint("FAILED", "red")}${
            reason ? ` (${reason})` : ""
          }`,
        );
      }
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

/** What `POST /agent/ping/:node` answers. */
interface PingReport {
  node: string;
  addr: string;
  state: string;
  rtt_ms: Array<number | null>;
  sent: number;
  received: number;
}

export const pingCommands: CommandGroup = {
  group: "ping",
  description: "ping a member over gossip UDP",
  commands: [{
    name: "",
    description: "ping member NODE (name or uuid) directly over gossip UDP and print the round trips",
    args: ["<node>"],
    options: {
      count: { type: "string", description: "pings to send, 1-20 (default 3)" },
      timeout: { type: "string", description: "wait for each answer (default 1s, 10ms-10s)" },
      json: { type: "boolean", description: "JSON output {node, addr, state, rtt_ms, sent, received}" },
    },
    async run({ out, options, positionals, client }) {
      const node = positionals[0];
      if (!node) throw new UsageError("missing node, e.g. kunai ping web-1");
      const q = new URLSearchParams();
      // checked here as the agent checks them, so that the wait below is bounded by what was asked
      const count = options.count === undefined ? 3 : Number(options.count);
      if (!/^\d{1,2}$/.test(String(options.count ?? "3")) || count < 1 || count > 20) {
        throw new UsageError(`--count: expected 1-20, got ${options.count}`);
      }
      const timeoutMs = durationOpt(options.timeout, "timeout", 1000, 10, 10_000);
      q.set("count", String(count));
      q.set("timeout", `${timeoutMs}ms`);
      let r: PingReport;
      try {
        r = await client().json<PingReport>(
          "POST",
          `/agent/ping/${encodeURIComponent(node)}?${q}`,
          undefined,
          count * (timeoutMs + 200) + 10_000, // the pings (200 ms apart), then an agent's usual answer time
        );
      } catch (err) {
        return refused(out, err, `cannot ping ${node}`);
      }
      if (options.json) out.json(r);
      else {
        out.line(`PING ${r.node} (${r.addr}, ${r.state}) over gossip UDP`);
        r.rtt_ms.forEach((t, i) =>
          out.line(
            t === null ? `no answer to ping ${i + 1}` : `answer from ${r.node}: ping ${i + 1} time=${t} ms`,
          )
        );
        const ok = r.rtt_ms.filter((t): t is number => t !== null);
        const loss = Math.round((1 - r.received / r.sent) * 100);
        const stats = ok.length
          ? `; rtt min/avg/max = ${Math.min(...ok)}/${
            Math.round(ok.reduce((a, b) => a + b, 0) / ok.length * 1000) / 1000
          }/${Math.max(...ok)} ms`
          : "";
        out.line(`--- ${r.node}: ${r.sent} sent, ${r.received} answered, ${loss}% lost${stats}`);
      }
      return r.received ? 0 : 1;
    },
  }],
};
export const leaveCommands: CommandGroup = leave;
export const keysCommands: CommandGroup = keys;
