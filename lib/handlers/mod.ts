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
import type { MembershipView } from "../types.ts";
import { HttpError, RouteTable } from "../routing/mod.ts";
import { Handlers } from "./handlers.ts";
import { EventHandlers, type EventHandlerView } from "./event_handlers.ts";
import { MEMBER_BUS_EVENTS } from "./member_events.ts";

export { findHandler, type HandlerDef, handlerDefs } from "./handler_def.ts";
export { expired, HourlyLimiter, retryDelay } from "./backoff.ts";
export { localTime } from "./handlers.ts";
export { type EventHandlerView, matchesEvent } from "./event_handlers.ts";

/** What routes, the CLI and tests may ask of the handlers. */
export interface HandlersApi {
  list(): Array<Record<string, unknown>>;
  /** Sends a sample mail through a handler now; throws with the relay's reason. */
  test(name: string): Promise<{ to: string[]; subject: string }>;
  /** Mails delivered / abandoned since start. */
  stats(): { sent: number; dropped: number; queued: number };
  /** The event handlers and what they ran. */
  eventHandlers(): EventHandlerView[];
}

/** Builds the handlers subsystem. */
export function createHandlers(
  ctx: Ctx,
  deps: {
    membership: Pick<MembershipView, "self">;
    /** True while gossip seals with a cluster key (events from other agents are authenticated). */
    keyed?: () => boolean;
  },
): Subsystem & HandlersApi {
  const h = new Handlers(ctx, deps.membership);
  const eh = new EventHandlers(ctx, deps.keyed ?? (() => false));
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
    stats: () => ({ sent: h.sent, dropped: h.dropped, queued: queuedTotal() }),
    routes: () => handlersRoutes(api),
  };
  return api;
}

/**
 * `GET /agent/handlers` and `GET /agent/event-handlers` (read) and `POST /agent/handlers/:name/test`
 * (write: it sends mail).
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
