/**
 * Handlers (reference §9): mail on check state changes, and on other nodes' suspect/dead/leave
 * for handlers with `on_node_change`; and `event_handler` objects, commands run for cluster events
 * and batched membership changes (lib/handlers/event_handlers.ts, member_events.ts, listed by `GET /agent/event-handlers`). Mails are rendered from Jinja2 templates (lib/templates),
 * queued in `handlers.db` and delivered with retries; `GET /agent/handlers` lists the handlers and
 * `POST /agent/handlers/:name/test` sends a sample.
 *
 * ```ts
 * const handlers = createHandlers(ctx, { membership });
 * await handlers.start(); // listens to check.changed and member.* on ctx.bus
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { PeerEnvelope } from "../transport/envelope.ts";
import type { MembershipView } from "../types.ts";
import { HttpError, peerResponse, readPeerBody, readText, RouteTable } from "../routing/mod.ts";
import { parseDuration } from "../clock/mod.ts";
import { SeenRequests } from "../fs/mod.ts";
import { join } from "node:path";
import { type CheckDefinitions, Handlers } from "./handlers.ts";
import { EventHandlers, type EventHandlerView } from "./event_handlers.ts";
import { MEMBER_BUS_EVENTS } from "./member_events.ts";
import {
  askQuery,
  parseRequest,
  QUERY_DEFAULT_TIMEOUT_MS,
  QUERY_PAYLOAD_BYTES,
  QUERY_SKEW_MS,
  type QueryFilter,
  type QueryResult,
} from "./queries.ts";

export { findHandler, type HandlerDef, handlerDefs } from "./handler_def.ts";
export { HourlyLimiter, retryDelay } from "./backoff.ts";
export { type CheckDefinitions, localTime } from "./handlers.ts";
export type { EventHandlerView } from "./event_handlers.ts";
export { matchesEvent } from "./event_handler_def.ts";
export { QUERY_PREFIX, type QueryAnswer, type QueryResult } from "./queries.ts";

/** What routes, the CLI and tests may ask of the handlers. */
export interface HandlersApi {
  list(): Array<Record<string, unknown>>;
  /** Sends a sample mail through a handler now; throws with the relay's reason. */
  test(name: string): Promise<{ to: string[]; subject: string }>;
  /** Mails delivered / abandoned since start. */
  stats(): { sent: number; dropped: number; queued: number };
  /** The event handlers and what they ran. */
  eventHandlers(): EventHandlerView[];
  /** Asks the members a query and collects their answers (lib/handlers/queries.ts). */
  query(name: string, payload: string, filter: QueryFilter, timeoutMs: number): Promise<QueryResult>;
  /**
   * A question from another agent, as the peer route received it (opened); the answer's bytes.
   * Throws HttpError 400 for bytes that are not a question.
   */
  answerPeer(body: Uint8Array): Promise<Uint8Array>;
}

/** Builds the handlers subsystem. */
export function createHandlers(
  ctx: Ctx,
  deps: {
    membership: Pick<MembershipView, "self"> & Partial<Pick<MembershipView, "members">>;
    /** True while gossip seals with a cluster key (events from other agents are authenticated). */
    keyed?: () => boolean;
    /** Seals and opens what queries send to other agents (the peer envelope); plain without it. */
    envelope?: Pick<PeerEnvelope, "seal" | "open">;
    /** The checks' configured fields (checks' `definition`), for templates; absent: the event only. */
    checkDefinition?: CheckDefinitions;
  },
): Subsystem & HandlersApi {
  const h = new Handlers(ctx, deps.membership, deps.checkDefinition);
  const eh = new EventHandlers(ctx, deps.keyed ?? (() => false));
  ctx.counters.describe("query_refused_total", "counter", "questions from other agents refused, by reason");
  // the questions from other agents a handler ran for, saved until their deadline: a sealed
  // question captured and sent again after a restart (the envelope's memory is gone) is a replay
  const seen = new SeenRequests(join(ctx.config.params.data, "query-seen.json"), QUERY_SKEW_MS, "questions");
  const offs: Array<() => void> = [];
  const queuedTotal = () => Object.values(h.queued()).reduce((a, b) => a + b, 0);
  const api: Subsystem & HandlersApi = {
    name: "handlers",
    async start() {
      offs.push(ctx.bus.on("check.changed", (ev) => h.onCheckChanged(ev)));
      offs.push(ctx.bus.on("member.suspect", (m) => h.onNodeChange(m, "suspect")));
      offs.push(ctx.bus.on("member.dead", (m) => h.onNodeChange(m, "dead")));
      offs.push(ctx.bus.on("member.left", (m) => h.onNodeChange(m, "leave")));
      offs.push(ctx.bus.on("config.reloaded", () => {
        h.reload();
        eh.reload();
      }));
      offs.push(ctx.bus.on("cluster.event", (e) => eh.onEvent(e)));
      for (const busEvent of Object.keys(MEMBER_BUS_EVENTS) as Array<keyof typeof MEMBER_BUS_EVENTS>) {
        offs.push(ctx.bus.on(busEvent, (m) => eh.onMember(busEvent, m)));
      }
      const problem = seen.load(ctx.clock.now());
      if (problem) ctx.log.warn(`queries: ${problem}`);
      await h.start();
      eh.start();
    },
    async stop() {
      for (const off of offs.splice(0)) off();
      eh.stop();
      await h.stop();
    },
    info: () => ({
      handlers: h.defs().map((d) => d.name),
      mail_handlers: h.defs().filter((d) => d.type === "mail").length,
      ...api.stats(),
      event_handlers: eh.list().map((d) => d.name),
    }),
    list: () => h.list(),
    eventHandlers: () => eh.list(),
    test: (name) => h.test(name),
    query: (name, payload, filter, timeoutMs) =>
      askQuery(
        {
          selfUuid: ctx.node.uuid,
          members: () => deps.membership.members?.() ?? [deps.membership.self()],
          now: () => ctx.clock.now(),
          local: (q) => eh.answerQuery(q, true),
          seal: (b) => deps.envelope?.seal(b) ?? Promise.resolve(b),
          open: (b) => deps.envelope?.open(b) ?? Promise.resolve({ ok: true as const, plain: b }),
        },
        name,
        payload,
        filter,
        timeoutMs,
      ),
    async answerPeer(body) {
      const q = parseRequest(body, ctx.clock.now());
      if (typeof q === "string") {
        const reason = q.split(":")[0];
        ctx.counters.inc("query_refused_total", { reason });
        // not a question at all is the sender's error; a late one gets an answer saying so
        if (reason === "malformed") throw new HttpError(400, `query refused: ${q}`);
        return new TextEncoder().encode(
          JSON.stringify({ node: ctx.node.name, uuid: ctx.node.uuid, status: "refused", error: q }),
        );
      }
      const admit = (): string | null => {
        const key = `${q.from_uuid}/${q.qid}`;
        if (seen.has(key, q.issued)) {
          return admitRefused("replay", "replay: this question was answered before");
        }
        try {
          seen.record(key, q.deadline, ctx.clock.now());
        } catch (err) {
          // a full or read-only disk: refused, as a run that could not be told from a replay later
          return admitRefused("unrecorded", `unrecorded: ${(err as Error).message}`);
        }
        return null;
      };
      const admitRefused = (reason: string, error: string) => {
        ctx.counters.inc("query_refused_total", { reason });
        ctx.log.warn(`query ${q.name} from ${q.from} refused: ${error}`);
        return error;
      };
      return new TextEncoder().encode(
        JSON.stringify(await eh.answerQuery(q, deps.keyed?.() ?? false, admit)),
      );
    },
    stats: () => ({ sent: h.sent, dropped: h.dropped, queued: queuedTotal() }),
    routes: () => handlersRoutes(api),
  };
  return api;
}

/**
 * `GET /agent/handlers` and `GET /agent/event-handlers` (read), `POST /agent/handlers/:name/test`
 * (write: it sends mail), `POST /agent/query/:name` (write: it runs commands on members) and the
 * peer route `POST /query/run` (a question from another agent, sealed with the cluster key).
 */
export function handlersRoutes(api: HandlersApi): RouteTable {
  const r = new RouteTable("handlers");
  r.read(
    "GET",
    "/agent/event-handlers",
    "the event handlers (not their commands), their runs, failures, drops and last run",
    (c) => c.json(api.eventHandlers()),
  );
  r.read(
    "GET",
    "/agent/handlers",
    "the handlers, their settings (no password) and queued mails",
    (c) => c.json(api.list()),
  );
  r.write(
    "POST",
    "/agent/query/:name",
    "ask the members a query (body: its payload, at most 1 KB; ?tag=, ?node=a,b, ?timeout=5s): their answers",
    async (c) => {
      const name = c.req.param("name") ?? ""; // hono decodes it (a second decode made "a%2541" "aA")
      const payload = await readText(c);
      const t = c.req.query("timeout");
      const timeoutMs = t === undefined ? QUERY_DEFAULT_TIMEOUT_MS : parseDuration(t);
      if (timeoutMs === null) {
        throw new HttpError(
          400,
          `query parameter timeout must be a duration like 5s, got ${JSON.stringify(t)}`,
        );
      }
      const node = c.req.query("node");
      const filter: QueryFilter = {
        tag: c.req.query("tag") || undefined,
        nodes: node ? node.split(",").filter(Boolean) : undefined,
      };
      try {
        return c.json(await api.query(name, payload, filter, timeoutMs));
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    },
  );
  r.peer("POST", "/query/run", "a query from another agent: this node's answer", async (c) => {
    const body = await readPeerBody(c);
    if (body.length > QUERY_PAYLOAD_BYTES * 8) throw new HttpError(413, "query too large");
    return await peerResponse(c, await api.answerPeer(body));
  });
  r.write("POST", "/agent/handlers/:name{.+}/test", "send a sample mail through a handler now", async (c) => {
    const name = c.req.param("name") ?? "";
    try {
      return c.json({ sent: true, ...(await api.test(name)) });
    } catch (err) {
      const msg = (err as Error).message;
      if (/^no handler named/.test(msg)) throw new HttpError(404, msg);
      if (/sends nothing|no contacts|^template /.test(msg)) throw new HttpError(409, msg);
      throw new HttpError(502, `the mail could not be sent: ${msg}`);
    }
  });
  return r;
}
