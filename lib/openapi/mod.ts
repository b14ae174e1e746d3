/**
 * The API's own description, generated from the route tables so it cannot drift:
 * `GET /api/openapi.json` (OpenAPI 3.1) and `GET /api/routes` (the flat table `kunai api` prints).
 *
 * Every route is declared in a `RouteTable` with its access (read, write, peer) and summary.
 *
 * ```ts
 * const routers = [core, ...subsystemRouters];
 * routers.push(openApiRoutes(() => describeRouters(routers), VERSION));
 * ```
 */
import { type RouteDoc, RouteTable } from "../routing/mod.ts";

/** One documented operation. */
export type ApiRoute = RouteDoc;

/** Every route of these route tables, in mount order, each once. */
export function describeRouters(routers: ReadonlyArray<RouteTable>): ApiRoute[] {
  const out: ApiRoute[] = [];
  const seen = new Set<string>();
  for (const d of routers.flatMap((r) => r.routes)) {
    const k = `${d.method} ${d.path}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
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
