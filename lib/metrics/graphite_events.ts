/**
 * graphite-web's events API (`/events/`), fed by the agent's cluster events, so that Grafana's Graphite
 * data source draws annotations (deploys, membership changes) on graphs:
 *
 * - `GET /events/get_data?from=&until=&tags=a b&set=` answers `[{when, what, data, tags, id}]`, oldest
 *   first, as graphite-web 1.1 does (graphite/events/views.py `fetch`, models.py `find_events`): `when`
 *   in whole epoch seconds, the window inclusive at both ends, `tags` split on spaces and all required
 *   (`set=union`: any one);
 * - `POST /events/` with `{"what", "tags", "data"}` sends a cluster event named `what`, payload `data`,
 *   carrying the tags, to every member (a write route).
 *
 * Each cluster event this agent logged (the last 512) is one event: `what` its name, `data` its payload,
 * `tags` `kunai`, its name, its sender's node name, then the tags it was posted with. With
 * `members=1` (default) the membership changes of gossip.db's history are events too: `what`
 * `member-join`, `member-failed` or `member-leave` (Serf's names), `tags` `kunai`, that name, the node.
 */
import type { ClusterEventRecord } from "../types.ts";
import { type ApiContext, HttpError, readText, type RouteTable, searchOf } from "../routing/mod.ts";
import { parseGraphiteTime, RenderError } from "./render.ts";

/** A membership change as gossip's history keeps it (lib/gossip/history.ts). */
export interface MemberChange {
  id: number;
  /** Epoch ms. */
  ts: number;
  name: string;
  addr: string;
  change: string;
  incarnation: number;
}

/** What the events routes need from gossip. */
export interface GraphiteEventsApi {
  /** The cluster events logged here, oldest first. */
  events(): ClusterEventRecord[];
  /** Membership changes of the kinds in `changes` within [fromMs, untilMs], oldest first, the newest `limit`. */
  memberChanges(fromMs: number, untilMs: number, changes: readonly string[], limit: number): MemberChange[];
  /** Sends a cluster event; throws an Error naming a bad name, payload or tags. */
  send(name: string, payload: string, tags: readonly string[]): ClusterEventRecord;
}

/** One event as graphite-web's `Event.as_dict()` shapes it. */
export interface GraphiteEvent {
  when: number;
  what: string;
  data: string;
  tags: string[];
  id: number;
}

/** Events in one answer when `limit` is not given (the newest of the window). */
export const DEFAULT_LIMIT = 1000;
/** Largest `limit`. */
export const MAX_LIMIT = 10_000;

/** gossip history's changes that are events, by their Serf names. */
export const MEMBER_EVENT_NAMES: Readonly<Record<string, string>> = {
  joined: "member-join",
  dead: "member-failed",
  left: "member-leave",
};

/** A parsed `/events/get_data` query. */
export interface EventsQuery {
  /** Epoch seconds (a fraction when relative to now), inclusive. */
  from: number;
  until: number;
  /** null: no `tags` parameter (every event). */
  tags: string[] | null;
  union: boolean;
  limit: number;
  members: boolean;
}

/**
 * Reads the query parameters as graphite-web does; throws HttpError 400 naming a bad one. `nowSeconds`
 * keeps its fraction: graphite-web's `now` (the default `until`, and what `-1h` counts from) is to the
 * microsecond, so an event of this very second is in `until=now`.
 */
export function eventsQuery(p: URLSearchParams, nowSeconds: number): EventsQuery {
  if (p.has("jsonp")) throw new HttpError(400, "jsonp: not supported (the answer is plain JSON)");
  const time = (name: string, fallback: number) => {
    const raw = p.get(name);
    if (raw === null) return fallback;
    try {
      return parseGraphiteTime(raw, nowSeconds, name);
    } catch (err) {
      if (err instanceof RenderError) throw new HttpError(400, err.message);
      throw err;
    }
  };
  const rawTags = p.get("tags");
  const rawLimit = p.get("limit");
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== null) {
    limit = Number(rawLimit);
    if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > MAX_LIMIT) {
      throw new HttpError(
        400,
        `limit: expected a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(rawLimit)}`,
      );
    }
  }
  const rawMembers = p.get("members");
  if (rawMembers !== null && !["0", "1", "true", "false"].includes(rawMembers)) {
    throw new HttpError(400, `members: expected 1 or 0, got ${JSON.stringify(rawMembers.slice(0, 40))}`);
  }
  return {
    from: time("from", 0),
    until: time("until", nowSeconds),
    tags: queryTags(rawTags),
    union: p.get("set") === "union",
    limit,
    members: rawMembers === null || rawMembers === "1" || rawMembers === "true",
  };
}

/** Most distinct tags in one query (each event is checked against every one). */
export const MAX_QUERY_TAGS = 100;

/** graphite-web's `request.GET['tags'].split(' ')`, empty words dropped, each once; null when absent. */
function queryTags(raw: string | null): string[] | null {
  if (raw === null) return null;
  const tags = [...new Set(raw.split(" ").filter((t) => t !== ""))];
  if (tags.length > MAX_QUERY_TAGS) {
    throw new HttpError(400, `tags: at most ${MAX_QUERY_TAGS} different tags, got ${tags.length}`);
  }
  return tags;
}

/** A stable whole-number id (below 2^53) for a cluster event's id: FNV-1a, 52 bits. */
export function numericId(id: string): number {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(id)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return Number(h & 0xfffffffffffffn);
}

/** The tags of a cluster event: `kunai`, its name, its sender, then its own (each once). */
export function clusterEventTags(e: ClusterEventRecord): string[] {
  return asTags(["kunai", e.name, e.from, ...(e.tags ?? [])]);
}

/** Each once, none empty nor with whitespace (graphite-web's tags are whitespace-separated words). */
const asTags = (words: string[]) => [...new Set(words)].filter((t) => t !== "" && !/\s/.test(t));

interface Timed {
  ms: number;
  order: number;
  event: GraphiteEvent;
}

/** The events of the query's window and tags, oldest first: the newest `limit` of them. */
export function graphiteEvents(api: GraphiteEventsApi, q: EventsQuery): GraphiteEvent[] {
  const fromMs = q.from * 1000;
  const untilMs = q.until * 1000;
  const out: Timed[] = [];
  for (const [i, e] of api.events().entries()) {
    if (!(e.at >= fromMs && e.at <= untilMs)) continue;
    out.push({
      ms: e.at,
      order: i,
      event: {
        when: Math.floor(e.at / 1000),
        what: e.name,
        data: e.payload,
        tags: clusterEventTags(e),
        id: numericId(e.id),
      },
    });
  }
  if (q.members && untilMs >= fromMs) {
    const changes = Object.keys(MEMBER_EVENT_NAMES);
    for (const [i, m] of api.memberChanges(fromMs, untilMs, changes, MAX_LIMIT).entries()) {
      const what = MEMBER_EVENT_NAMES[m.change];
      out.push({
        ms: m.ts,
        order: LOG_ORDER_BASE + i,
        event: {
          when: Math.floor(m.ts / 1000),
          what,
          data: `${m.name} ${m.addr} (incarnation ${m.incarnation})`,
          tags: asTags(["kunai", what, m.name]),
          id: m.id,
        },
      });
    }
  }
  const matching = out.filter(({ event }) => tagsMatch(event.tags, q.tags, q.union));
  matching.sort((a, b) => a.ms - b.ms || a.order - b.order);
  return matching.slice(Math.max(0, matching.length - q.limit)).map((t) => t.event);
}

/** Membership changes sort after cluster events of the same millisecond. */
const LOG_ORDER_BASE = 1 << 20;

/** graphite-web's tag filter: every wanted tag (`union`: any one); no `tags` parameter: all events. */
export function tagsMatch(
  tags: readonly string[],
  wanted: readonly string[] | null,
  union: boolean,
): boolean {
  if (wanted === null) return true;
  if (wanted.length === 0) return false;
  return union ? wanted.some((t) => tags.includes(t)) : wanted.every((t) => tags.includes(t));
}

const POST_FIELDS = ["what", "tags", "data"];

/**
 * The cluster event a `POST /events/` body asks for: `what` (its name), `tags` (an array or a
 * space-separated string) and `data` (its payload). Throws HttpError 400 naming what is wrong.
 */
export function parseEventPost(text: string): { name: string; payload: string; tags: string[] } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new HttpError(
      400,
      `invalid JSON body (${
        (err as Error).message
      }); expected {"what": "deploy", "tags": "web", "data": "v42"}`,
    );
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(
      400,
      'expected a JSON object such as {"what": "deploy", "tags": "web", "data": "v42"}',
    );
  }
  const o = body as Record<string, unknown>;
  if ("when" in o) {
    throw new HttpError(
      400,
      '"when": kunai dates an event when it is sent (every member logs it then); leave "when" out',
    );
  }
  for (const k of Object.keys(o)) {
    if (!POST_FIELDS.includes(k)) {
      throw new HttpError(400, `unknown field ${JSON.stringify(k.slice(0, 40))} (what, tags, data)`);
    }
  }
  if (typeof o.what !== "string" || o.what === "") {
    throw new HttpError(400, '"what" (required): the event\'s name, a string such as "deploy"');
  }
  let tags: string[] = [];
  if (o.tags !== undefined && o.tags !== null) {
    // graphite-web joins an array with spaces and splits the tags on whitespace
    if (Array.isArray(o.tags) && o.tags.every((t) => typeof t === "string")) {
      tags = o.tags.join(" ").split(/\s+/);
    } else if (typeof o.tags === "string") tags = o.tags.split(/\s+/);
    else throw new HttpError(400, '"tags" must be an array or space-separated string');
  }
  tags = [...new Set(tags.filter((t) => t !== ""))];
  if (o.data !== undefined && typeof o.data !== "string") {
    throw new HttpError(400, `"data" must be a string (the event's payload), got ${typeOf(o.data)}`);
  }
  return { name: o.what, payload: (o.data as string | undefined) ?? "", tags };
}

const typeOf = (v: unknown) => v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`;

/** Adds `/events/get_data`, `/events/` (GET: the same list; POST: send one) to `r`. */
export function graphiteEventRoutes(r: RouteTable, api: GraphiteEventsApi, nowMs: () => number): void {
  const list = (c: ApiContext) => {
    const q = eventsQuery(searchOf(c), nowMs() / 1000);
    return c.json(graphiteEvents(api, q));
  };
  r.read(
    "GET",
    "/events/get_data",
    "graphite-web's events: cluster events and membership changes (from, until, tags, set, limit, members)",
    list,
  );
  for (const path of ["/events", "/events/"]) {
    r.read("GET", path, "graphite-web's events as JSON (as /events/get_data)", list);
    r.write("POST", path, 'send a cluster event, graphite-web style: {"what", "tags", "data"}', async (c) => {
      const want = parseEventPost(await readText(c));
      let e: ClusterEventRecord;
      try {
        e = api.send(want.name, want.payload, want.tags);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      const out: GraphiteEvent = {
        when: Math.floor(e.at / 1000),
        what: e.name,
        data: e.payload,
        tags: clusterEventTags(e),
        id: numericId(e.id),
      };
      return c.json(out);
    });
  }
}
