/**
 * Docker routes (reference §5): `/docker` (connected), `/docker/containers[/:id]`,
 * `/docker/images[/:id]`, `/docker/stats`.
 */
import type { Hono } from "hono";
import { type ApiEnv, newRouter } from "../routing/mod.ts";
import type { StatSet } from "./stats.ts";

export interface DockerRouteApi {
  connected(): boolean;
  containers(): Array<Record<string, unknown>>;
  container(id: string): Record<string, unknown> | null;
  images(): Array<Record<string, unknown>>;
  image(id: string): Record<string, unknown> | null;
  stats(): { containers: Record<string, StatSet>; images: Record<string, StatSet> };
}

export function dockerRoutes(api: DockerRouteApi): Hono<ApiEnv> {
  const r = newRouter();
  for (const p of ["/docker", "/docker/"]) r.get(p, (c) => c.json(api.connected()));
  for (const p of ["/docker/containers", "/docker/containers/"]) r.get(p, (c) => c.json(api.containers()));
  r.get("/docker/containers/:id", (c) => c.json(api.container(c.req.param("id"))));
  for (const p of ["/docker/images", "/docker/images/"]) r.get(p, (c) => c.json(api.images()));
  r.get("/docker/images/:id", (c) => c.json(api.image(c.req.param("id"))));
  for (const p of ["/docker/stats", "/docker/stats/"]) r.get(p, (c) => c.json(api.stats()));
  return r;
}
