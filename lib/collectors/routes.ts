/**
 * `GET /collectors[/:name]` (reference §5): `{name: {name, last_check, next_check, results, metrics,
 * active, log}}` and one entry or `null`.
 */
import { HttpError, pathParam, RouteTable } from "../routing/mod.ts";
import type { CollectorEntry } from "./runtime.ts";

export interface CollectorsRouteApi {
  entries(): CollectorEntry[];
  entry(name: string): CollectorEntry | undefined;
}

export function collectorsRoutes(api: CollectorsRouteApi): RouteTable {
  const r = new RouteTable("collectors");
  const all = () => Object.fromEntries(api.entries().map((e) => [e.name, e]));
  for (const p of ["/collectors", "/collectors/"]) {
    r.read("GET", p, "every collector's last results and metrics", (c) => c.json(all()));
  }
  r.read("GET", "/collectors/:name", "one collector's entry (404 when unknown)", (c) => {
    const name = pathParam(c, "name");
    const e = api.entry(name);
    if (!e) throw new HttpError(404, "collector not found", { name });
    return c.json(e);
  });
  return r;
}
