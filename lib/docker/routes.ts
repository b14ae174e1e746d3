/**
 * Docker routes (reference §5): `/docker` (connected), `/docker/containers[/:id]`,
 * `/docker/images[/:id]`, `/docker/stats`. All reads.
 */
import { pathParam, RouteTable } from "../routing/mod.ts";
import type { StatSet } from "./stats.ts";

export interface DockerRouteApi {
  connected(): boolean;
  containers(): Array<Record<string, unknown>>;
  container(id: string): Record<string, unknown> | null;
  images(): Array<Record<string, unknown>>;
  image(id: string): Record<string, unknown> | null;
  stats(): { containers: Record<string, StatSet>; images: Record<string, StatSet> };
}

export function dockerRoutes(api: DockerRouteApi): RouteTable {
  const r = new RouteTable("docker");
  for (const p of ["/docker", "/docker/"]) {
    r.read("GET", p, "is the Docker Engine connected", (c) => c.json(api.connected()));
  }
  for (const p of ["/docker/containers", "/docker/containers/"]) {
    r.read("GET", p, "inspected containers", (c) => c.json(api.containers()));
  }
  r.read(
    "GET",
    "/docker/containers/:id",
    "one container, or null",
    (c) => c.json(api.container(pathParam(c, "id"))),
  );
  for (const p of ["/docker/images", "/docker/images/"]) {
    r.read("GET", p, "images", (c) => c.json(api.images()));
  }
  r.read("GET", "/docker/images/:id", "one image, or null", (c) => c.json(api.image(pathParam(c, "id"))));
  for (const p of ["/docker/stats", "/docker/stats/"]) {
    r.read("GET", p, "per-container and per-image resource stats", (c) => c.json(api.stats()));
  }
  return r;
}
