/**
 * The API's own description, generated from the route tables so it cannot drift:
 * `GET /api/openapi.json` (OpenAPI 3.1) and `GET /api/routes` (the flat table `kunai api` prints).
 *
 * Routes of a `RouteTable` carry their access and summary. Routes of a bare Hono router (the old
 * form being retired) are listed too, with access `write` when guarded by `protect`, else
 * `unclassified`, so that every path the server answers appears in the document.
 *
 * ```ts
 * const routers = [core, ...subsystemRouters];
 * routers.push(openApiRoutes(() => describeRouters(routers), VERSION));
 * ```
 */
import type { Hono } from "hono";
import { type ApiEnv, type Method, protect, type RouteDoc, RouteTable } from "../routing/mod.ts";

/** One documented operation (a RouteDoc, or a bare router's route with inferred access). */
export interface ApiRoute extends Omit<RouteDoc, "access"> {
  access: RouteDoc["access"] | "unclassified";
}

const METHODS = new Set(["GET", "POST", "PUT", "DELETE", "PATCH"]);

/** Every route of these routers, in mount order, each once. */
export function describeRouters(routers: ReadonlyArray<RouteTable | Hono<ApiEnv>>): ApiRoute[] {
  const out: ApiRoute[] = [];
  const seen = new Set<string>();
  const add = (r: ApiRoute) => {
    const k = `${r.method} ${r.path}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(r);
  };
  for (const router of routers) {
    if (router instanceof RouteTable) {
      for (const d of router.routes) add(d);
      continue;
    }
    const guarded = new Set(
      router.routes.filter((r) => r.handler === protect).map((r) => `${r.method} ${r.path}`),
    );
    for (const r of router.routes) {
      if (!METHODS.has(r.method) || r.handler === protect) continue;
      const k = `${r.method} ${r.path}`;
      add({
        method: r.method as Method,
        path: r.path,
        access: guarded.has(k) ? "write" : "unclassified",
        summary: "",
        owner: "legacy",
      });
    }
  }
  return out;
}

/** `/kv/:key{.+}` → `{ path: "/kv/{key}", params: ["key"] }` (OpenAPI path template). */
export function openApiPath(honoPath: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = honoPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)(\{(?:[^{}]|\{[^}]*\})*\})?\??/g, (_m, name) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path, params };
}

/** The OpenAPI 3.1 document of these routes. */
export function openApiDocument(routes: ApiRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const { path, params } = openApiPath(r.path);
    const op: Record<string, unknown> = {
      summary: r.summary || `${r.method} ${r.path}`,
      operationId: `${r.method.toLowerCase()} ${r.path}`,
      tags: [r.owner],
      "x-kunai-access": r.access,
      "x-kunai-route": r.path,
      responses: {
        "200": { description: "success" },
        ...(r.access === "write"
          ? { "401": { description: "no token" }, "403": { description: "bad token" } }
          : {}),
        ...(r.access === "peer" ? { "401": { description: "not sealed by the cluster keyring" } } : {}),
        default: {
          description: "error",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
    };
    if (params.length) {
      op.parameters = params.map((name) => ({
        name,
        in: "path",
        required: true,
        schema: { type: "string" },
      }));
    }
    if (r.access === "write") op.security = [{ bearer: [] }];
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "kunai agent API",
      version,
      description: "Generated from the agent's route tables. Reads are open; writes need the unix socket " +
        "or Authorization: Bearer <http.token>; peer routes take keyring-sealed bodies from other agents.",
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "http.token" } },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: { error: { type: "string" }, detail: {} },
        },
      },
    },
  };
}

/** `GET /api/openapi.json` and `GET /api/routes`, over the routes `docs()` returns at request time. */
export function openApiRoutes(docs: () => ApiRoute[], version: string): RouteTable {
  const r = new RouteTable("api");
  r.read(
    "GET",
    "/api/openapi.json",
    "OpenAPI 3.1 document of every route",
    (c) => c.json(openApiDocument(docs(), version)),
  );
  r.read("GET", "/api/routes", "every route: method, path, access, owner, summary", (c) => c.json(docs()));
  return r;
}
