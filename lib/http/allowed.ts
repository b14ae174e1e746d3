/**
 * Which methods a path answers to, from the routes an app registered: lets a wrong method get
 * 405 with an `Allow` header instead of 404.
 */
import { Hono } from "hono";

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"] as const;

/** Builds `allowedMethods(path)` over the concrete (non-middleware) routes of `routes`. */
export function methodIndex(
  routes: ReadonlyArray<{ method: string; path: string }>,
): (path: string) => Promise<string[]> {
  const probe = new Hono();
  for (const r of routes) {
    if ((METHODS as readonly string[]).includes(r.method)) probe.on(r.method, r.path, () => new Response(""));
  }
  return async (path: string) => {
    const out: string[] = [];
    for (const m of METHODS) {
      const res = await probe.request(path, { method: m });
      if (res.status !== 404) out.push(m);
    }
    return out;
  };
}
