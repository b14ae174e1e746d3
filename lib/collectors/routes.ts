/**
 * `GET /collectors[/:name]` (reference §5): `{name: {name, last_check, next_check, results, metrics,
 * active, log}}` and one entry or `null`.
 */
import type { Hono } from "hono";
import { type ApiEnv, HttpError, newRouter } from "../routing/mod.ts";
import type { CollectorEntry } from "./runtime.ts";

export interface CollectorsRouteApi {
  entries(): CollectorEntry[];
  entry(name: string): CollectorEntry | undefined;
}

export function collectorsRoutes(api: CollectorsRouteApi): Hono<ApiEnv> {
  const r = newRouter();
  const all = () => Object.fromEntries(api.entries().map((e) => [e.name, e]));
  r.get("/collectors", (c) => c.json(all()));
  r.get("/collectors/", (c) => c.json(all()));
  r.get("/collectors/:name", (c) => {
    const e = api.entry(c.req.param("name"));
    if (!e) throw new HttpError(404, "collector not found", { name: c.req.param("name") });
    return c.json(e);
  });
  return r;
}
