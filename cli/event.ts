/**
 * `kunai event send NAME [PAYLOAD]` and `kunai event list`: cluster events (Serf's `serf event`,
 * opsbro's `gossip events`), signals every member logs; `kunai wait event NAME` waits for one;
 * `kunai event handlers`: the `event_handler` objects that run commands for them;
 * `kunai event query NAME`: Serf's `serf query`, the members' handlers of `query:NAME` answer.
 */
import { readValue } from "./kv.ts";
import { alignRows } from "./members.ts";
import { type CommandGroup, refused, UsageError } from "./types.ts";
import { durationOpt } from "./lock_kv.ts";
import type { EventHandlerView, QueryAnswer, QueryResult } from "../lib/handlers/mod.ts";

interface EventView {
  id: string;
  name: string;
  payload: string;
  from: string;
  at: number;
  received: number;
}

export const eventCommands: CommandGroup = {
  group: "event",
  description: "cluster events: signals sent to every member",
  commands: [
    {
      name: "send",
      description: "send event NAME to every member, with PAYLOAD (text, - for stdin, @FILE; at most 1 KB)",
      args: ["<name>", "[payload]"],
      options: { json: { type: "boolean", description: "JSON output: the event as logged" } },
      async run({ client, out, options, positionals }) {
        const [name, payload] = await nameAndPayload(
          positionals,
          "event",
          "kunai event send deploy-done v42",
        );
        let e: EventView;
        try {
          e = JSON.parse(await client().text("POST", `/agent/events/${encodeURIComponent(name)}`, payload));
        } catch (err) {
          return refused(out, err, "event not sent");
        }
        if (options.json) out.json(e);
        else out.line(`Event ${e.name} sent (id ${e.id})`);
        return 0;
      },
    },
    {
      name: "query",
      description: "ask the members query NAME (their handlers of query:NAME answer) and print the answers",
      args: ["<name>", "[payload]"],
      options: {
        tag: { type: "string", description: "only members with this tag" },
        node: { type: "string", multiple: true, description: "only this member (repeatable; name or uuid)" },
        timeout: { type: "string", description: "wait this long for the answers (default 5s, at most 60s)" },
        json: {
          type: "boolean",
          description:
            "JSON {qid, name, targets, answers: [{node, uuid, status, handler, code, output, error}]}",
        },
      },
      async run({ client, out, options, positionals }) {
        const [name, payload] = await nameAndPayload(positionals, "query", "kunai event query uptime");
        const q = new URLSearchParams();
        if (typeof options.tag === "string") q.set("tag", options.tag);
        if (Array.isArray(options.node) && options.node.length) q.set("node", options.node.join(","));
        if (options.timeout !== undefined) {
          q.set("timeout", `${durationOpt(options.timeout, "timeout", 5000, 100, 60_000)}ms`);
        }
        const qs = q.size ? `?${q}` : "";
        let r: QueryResult;
        try {
          r = JSON.parse(
            await client().text("POST", `/agent/query/${encodeURIComponent(name)}${qs}`, payload),
          );
        } catch (err) {
          return refused(out, err, "query not asked");
        }
        if (options.json) out.json(r);
        else printAnswers(out, r);
        if (!r.targets) {
          if (!options.json) out.error("kunai: no member matches the query's --tag/--node");
          return 1;
        }
        return r.answers.every((a) => a.status === "ok" || a.status === "no-handler") ? 0 : 1;
      },
    },
    {
      name: "list",
      description: "the events this agent logged (last 512), oldest first",
      options: {
        name: { type: "string", description: "only events of this name" },
        json: {
          type: "boolean",
          description:
            "JSON array of {id, name, payload, from, from_uuid, at, received, authenticated, tags?}",
        },
      },
      async run({ client, out, options }) {
        const q = typeof options.name === "string" ? `?name=${encodeURIComponent(options.name)}` : "";
        const events = await client().json<EventView[]>("GET", `/agent/events${q}`);
        if (options.json) out.json(events);
        else if (!events.length) out.line("No events");
        else {
          const rows = events.map((e) => [
            new Date(e.received).toISOString().replace("T", " ").slice(0, 19),
            e.name,
            e.from,
            JSON.stringify(e.payload.length > 60 ? e.payload.slice(0, 60) + "…" : e.payload),
          ]);
          for (const l of alignRows([["Received (UTC)", "Event", "From", "Payload"], ...rows])) out.line(l);
        }
        return 0;
      },
    },
    {
      name: "handlers",
      description: "the event handlers of this agent: events, runs, failures, drops and the last run",
      options: { json: { type: "boolean", description: "JSON array (GET /agent/event-handlers)" } },
      async run({ client, out, options }) {
        const list = await client().json<EventHandlerView[]>("GET", "/agent/event-handlers");
        if (options.json) out.json(list);
        else if (!list.length) out.line("No event handlers (event_handler objects in the configuration)");
        else {
          const rows = list.map((h) => [
            h.name,
            h.events.join(","),
            h.applies ? "yes" : `no (apply_on ${h.apply_on})`,
            String(h.runs),
            String(h.failures),
            String(h.dropped + h.skipped_unauthenticated),
            h.running ? `running (+${h.queued} waiting)` : lastRun(h.last),
          ]);
          const head = ["Handler", "Events", "Applies", "Runs", "Failed", "Skipped", "Last run"];
          for (const l of alignRows([head, ...rows])) out.line(l);
          if (list.some((h) => h.skipped_unauthenticated)) {
            out.line("Skipped: events from other agents while the cluster has no encryption_key, and drops");
          }
        }
        return 0;
      },
    },
  ],
};

/** NAME and the optional PAYLOAD (text, `-` for stdin, `@FILE`) of `event send` and `event query`. */
async function nameAndPayload(
  positionals: string[],
  what: string,
  example: string,
): Promise<[string, string]> {
  const name = positionals[0];
  if (!name) throw new UsageError(`missing ${what} name, e.g. ${example}`);
  if (positionals.length > 2) throw new UsageError("quote the payload: one argument after the name");
  const payload = positionals[1] === undefined
    ? ""
    : new TextDecoder().decode(await readValue(positionals[1]));
  return [name, payload];
}

/** One row per node; a multi-line answer continues under the Response column. */
function printAnswers(out: { line(s: string): void }, r: QueryResult): void {
  if (!r.targets) return;
  const lines = r.answers.map((a) => (a.output ?? a.error ?? "").replace(/\n$/, "").split("\n"));
  const rows = r.answers.map((a, i) => [a.node, answerStatus(a), lines[i][0]]);
  const table = alignRows([["Node", "Status", "Response"], ...rows]);
  const indent = " ".repeat(table[0].indexOf("Response"));
  out.line(table[0]);
  r.answers.forEach((_, i) => {
    out.line(table[i + 1]);
    for (const more of lines[i].slice(1)) out.line(indent + more);
  });
  const count = (s: QueryAnswer["status"]) => r.answers.filter((a) => a.status === s).length;
  const parts = [`${count("ok")} answered`];
  for (const s of ["failed", "no-handler", "refused", "timeout", "unreachable"] as const) {
    if (count(s)) {
      parts.push(`${count(s)} ${s === "no-handler" ? `without a handler of query:${r.name}` : s}`);
    }
  }
  out.line(`${r.targets} member(s) asked: ${parts.join(", ")}`);
}

function answerStatus(a: QueryAnswer): string {
  if (a.status === "failed" && a.code !== undefined) return `failed (exit ${a.code})`;
  if (a.status === "ok" && a.truncated) return "ok (truncated)";
  return a.status;
}

function lastRun(last: EventHandlerView["last"]): string {
  if (!last) return "-";
  const when = new Date(last.started).toISOString().replace("T", " ").slice(0, 19);
  const how = last.timed_out ? "timed out" : last.signal ? last.signal : `exit ${last.code}`;
  return `${when} ${last.event}: ${how} (${last.duration_ms} ms)`;
}
