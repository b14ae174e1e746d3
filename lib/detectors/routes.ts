/**
 * `GET /agent/detectors`, `/agent/detectors/run[/:name]` (dry run: tags are not applied). Reads:
 * the dry run evaluates the configured rules only and changes nothing.
 */
import { HttpError, pathParam, RouteTable } from "../routing/mod.ts";
import type { Detectors } from "./detectors.ts";

export function detectorsRoutes(d: Detectors): RouteTable {
  const r = new RouteTable("detectors");
  // a dry run may start subprocesses (`rpm -q`, plugins): requests that come while one is in progress
  // share its answer rather than start as many runs as there are requests (an open read route)
  const running = new Map<string, Promise<unknown>>();
  const shared = (name?: string): Promise<unknown> => {
    const key = name ?? "";
    let p = running.get(key);
    if (!p) {
      p = d.dryRun(name).finally(() => running.delete(key));
      running.set(key, p);
    }
    return p;
  };
  for (const p of ["/agent/detectors", "/agent/detectors/"]) {
    r.read("GET", p, "the detector objects", (c) => c.json(d.list()));
  }
  for (const p of ["/agent/detectors/run", "/agent/detectors/run/"]) {
    r.read(
      "GET",
      p,
      "evaluate every detector now without applying tags",
      async (c) => c.json(await shared()),
    );
  }
  r.read(
    "GET",
    "/agent/detectors/run/:name{.+}",
    "evaluate one detector now without applying tags",
    async (c) => {
      const name = pathParam(c, "name");
      if (!d.has(name)) {
        const known = d.list().map((x) => String(x.id));
        throw new HttpError(
          404,
          `detector not found: ${JSON.stringify(name)} (known: ${
            known.join(", ") || "none"
          }; see kunai detectors list)`,
        );
      }
      return c.json(await shared(name));
    },
  );
  return r;
}
