/**
 * `event_handler` objects as the configuration gives them, and the rules of which event runs which
 * handler with what environment (lib/handlers/event_handlers.ts runs them).
 */
import type { Ctx } from "../subsystem.ts";
import type { ClusterEventRecord } from "../types.ts";
import { isMemberPattern } from "./member_events.ts";
import { QUERY_PREFIX } from "./queries.ts";
import { DEFAULT_PATH } from "../process/mod.ts";

/** PATH of every command (the agent's own PATH is not inherited). */
export const HANDLER_PATH = DEFAULT_PATH;

export interface EventHandlerDef {
  name: string;
  file: string;
  events: string[];
  command: string;
  timeout: number;
  apply_on: string;
}

/** The definitions from `config.objects.event_handler` (already validated with defaults). */
export function eventHandlerDefs(ctx: Ctx): EventHandlerDef[] {
  const out: EventHandlerDef[] = [];
  for (const [id, o] of Object.entries(ctx.config.objects.event_handler ?? {})) {
    const v = o.value as Record<string, unknown>;
    out.push({
      name: id,
      file: o.file,
      events: (v.events as string[]) ?? [],
      command: String(v.command ?? ""),
      timeout: Number(v.timeout ?? 60_000),
      apply_on: typeof v.apply_on === "string" && v.apply_on ? v.apply_on : "*",
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * True when `name` is one of `patterns`: an exact name, `prefix*`, or `*`. Membership events
 * (`member-join`...) match only patterns that start with `member-`, queries (`query:NAME`) only
 * patterns that start with `query:`, and those patterns match nothing else: `*` stays "every event
 * sent with `kunai event send`".
 */
export function matchesEvent(patterns: string[], name: string): boolean {
  const family = eventFamily(name);
  return patterns.some((p) =>
    eventFamily(p) === family &&
    (p === "*" || p === name || (p.endsWith("*") && name.startsWith(p.slice(0, -1))))
  );
}

/** Sent events, membership events and queries: names (and patterns) of one never match another. */
export function eventFamily(name: string): "member" | "query" | "event" {
  return isMemberPattern(name) ? "member" : name.startsWith(QUERY_PREFIX) ? "query" : "event";
}

/**
 * The environment of a run: nothing of the agent's but LANG and HOME. A NUL, which no environment
 * can hold (the command would not start), becomes a space: a sender's name is network data.
 */
export function runEnv(e: ClusterEventRecord, self: { name: string; uuid: string; tags: string[] }) {
  const env: Record<string, string> = {
    PATH: HANDLER_PATH,
    LANG: Deno.env.get("LANG") || "C",
    KUNAI_EVENT_NAME: e.name,
    KUNAI_EVENT_ID: e.id,
    KUNAI_EVENT_FROM: e.from,
    KUNAI_EVENT_FROM_UUID: e.from_uuid,
    KUNAI_EVENT_AT: String(e.at),
    KUNAI_SELF_NAME: self.name,
    KUNAI_SELF_UUID: self.uuid,
    KUNAI_SELF_TAGS: self.tags.join(","),
  };
  const home = Deno.env.get("HOME");
  if (home) env.HOME = home;
  for (const [k, v] of Object.entries(env)) env[k] = v.replaceAll("\0", " ");
  return env;
}

/** True when the handler applies on a node with `tags` (its `apply_on` tag, or `*`). */
export function applies(def: EventHandlerDef, tags: string[]): boolean {
  return def.apply_on === "*" || tags.includes(def.apply_on);
}
