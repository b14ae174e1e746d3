/**
 * `GET /agent/detectors`, `/agent/detectors/run[/:name]` (dry run: tags are not applied).
 */
import type { Hono } from "hono";
import { type ApiEnv, HttpError, newRouter } from "../routing/mod.ts";
import type { Detectors } from "./detectors.ts";

export function detectorsRoutes(d: Detectors): Hono<ApiEnv> {
  const r = newRouter();
  r.get("/agent/detectors", (c) => c.json(d.list()));
  r.get("/agent/detectors/", (c) => c.json(d.list()));
  r.get("/agent/detectors/run", async (c) => c.json(await d.dryRun()));
  r.get("/agent/detectors/run/", async (c) => c.json(await d.dryRun()));
  r.get("/agent/detectors/run/:name{.+}", async (c) => {
    const name = c.req.param("name");
    if (!d.has(name)) throw new HttpError(404, "detector not found");
    return c.json(await d.dryRun(name));
  });
  return r;
}
