/**
 * The metrics read API (Graphite-web compatible, for Grafana's Graphite data source) as `read`
 * routes: parse, call the read API, shape. `/functions` and `/version` tell Grafana which
 * functions `/render` has. Bad targets and parameters are 400 naming the
 * function, position or parameter.
 */
import { type ApiContext, HttpError, readText, RouteTable, searchOf } from "../routing/mod.ts";
import { findNodes, PatternError } from "./glob.ts";
import { render, RenderError, renderRequest, type SeriesSource, toCsv, toJson, toRaw } from "./render.ts";
import { TargetError } from "./target_parser.ts";
import { Slots } from "../slots.ts";
import { TagError, type TagIndex, tagIndexFor } from "./tags.ts";
import { graphiteEventRoutes, type GraphiteEventsApi } from "./graphite_events.ts";
import {
  FunctionError,
  functionInfo,
  functionListJson,
  GRAPHITE_VERSION,
  infinityJson,
} from "./render_functions.ts";

/** What the routes need from the subsystem. */
export interface MetricsReadApi {
  source: SeriesSource;
  /** Every known metric name (cluster-wide when `ts` nodes exist), sorted. */
  names(): Promise<string[]>;
  /** Unix seconds (the injected clock). */
  nowSeconds(): number;
  /** Epoch ms (the injected clock; default: nowSeconds' whole seconds). */
  nowMs?(): number;
  /** The cluster events behind graphite-web's `/events/` routes (absent: no such routes). */
  events?: GraphiteEventsApi;
}

const scalar = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";

async function params(c: ApiContext): Promise<URLSearchParams> {
  const p = searchOf(c);
  if (c.req.method === "POST") {
    const body = await readText(c);
    const type = c.req.header("content-type") ?? "";
    if (type.includes("json")) {
      let j: unknown;
      try {
        j = JSON.parse(body);
      } catch (err) {
        throw new HttpError(400, `invalid JSON body: ${(err as Error).message}`);
      }
      // graphite-web's form as JSON: an object of strings, numbers or lists of them (`null` became
      // the target "null", an object "[object Object]", a deep list a stack overflow)
      if (j === null || typeof j !== "object" || Array.isArray(j)) {
        throw new HttpError(400, 'JSON body: expected an object such as {"target": ["a.b"]}');
      }
      for (const [k, v] of Object.entries(j as Record<string, unknown>)) {
        const items = Array.isArray(v) ? v : [v];
        if (!items.every(scalar)) {
          throw new HttpError(400, `JSON body: ${k}: expected a string, a number or a list of them`);
        }
        for (const item of items) p.append(k, String(item));
      }
    } else for (const [k, v] of new URLSearchParams(body)) p.append(k, v);
  }
  return p;
}

function badRequest(err: unknown): never {
  if (
    err instanceof TargetError || err instanceof RenderError || err instanceof PatternError ||
    err instanceof TagError
  ) {
    throw new HttpError(400, err.message);
  }
  if (err instanceof FunctionError) throw new HttpError(400, err.message);
  throw err;
}

/** Renders at once (a cluster's render holds its fetched points while it waits for other nodes). */
export const RENDERS_AT_ONCE = 4;
/** Renders waiting for a slot; more are answered 503 at once. */
export const RENDERS_WAITING = 32;

export function metricsRoutes(api: MetricsReadApi): RouteTable {
  const r = new RouteTable("metrics");
  const slots = new Slots(RENDERS_AT_ONCE, RENDERS_WAITING);
  const renderHandler = async (c: ApiContext) => {
    const p = await params(c);
    let body: string | unknown;
    let format: string;
    const slot = slots.acquire();
    if (!slot) {
      throw new HttpError(
        503,
        `too many renders at once (${slots.busy} running, ${slots.waiting} waiting): retry later`,
      );
    }
    const release = await slot;
    try {
      const req = renderRequest(p, api.nowSeconds());
      if (req.targets.length === 0) throw new RenderError("no target given (target=...)");
      const list = await render(req, api.source);
      format = req.format;
      body = format === "csv" ? toCsv(list) : format === "raw" ? toRaw(list) : toJson(list);
    } catch (err) {
      badRequest(err);
    } finally {
      release();
    }
    if (format === "json") return c.json(body);
    return c.text(body as string, 200, { "content-type": format === "csv" ? "text/csv" : "text/plain" });
  };
  for (const path of ["/render", "/render/"]) {
    r.read(
      "GET",
      path,
      "Graphite render: target=..., from, until, format=json|csv|raw, maxDataPoints",
      renderHandler,
    );
    r.read("POST", path, "Graphite render with a form or JSON body", renderHandler);
  }
  const findHandler = async (c: ApiContext) => {
    const p = await params(c);
    const query = p.get("query");
    if (query === null || query === "") {
      throw new HttpError(400, "query: missing (e.g. query=* or query=web1.*)");
    }
    let nodes;
    try {
      nodes = findNodes(query, await api.names());
    } catch (err) {
      badRequest(err);
    }
    const out: unknown[] = [];
    for (const n of nodes) {
      if (n.branch) {
        out.push({ leaf: 0, context: {}, text: n.text, id: n.path, expandable: 1, allowChildren: 1 });
      }
      if (n.leaf) {
        out.push({ leaf: 1, context: {}, text: n.text, id: n.path, expandable: 0, allowChildren: 0 });
      }
    }
    return c.json(out);
  };
  for (const path of ["/metrics/find", "/metrics/find/"]) {
    r.read("GET", path, "Graphite finder: nodes matching query=", findHandler);
    r.read("POST", path, "Graphite finder (form body)", findHandler);
  }
  // Grafana's Graphite data source (version 1.1 and later) asks these to build its function editor
  r.read(
    "GET",
    "/version",
    "the graphite-web version whose functions /render follows",
    (c) => c.text(GRAPHITE_VERSION),
  );
  const functions = (c: ApiContext) => {
    const q = searchOf(c);
    // no pie-chart functions here
    if (q.get("type") === "pie") return c.body("{}", 200, { "content-type": "application/json" });
    const grouped = ["1", "true"].includes((q.get("grouped") ?? "").toLowerCase());
    return c.body(functionListJson({ grouped, group: q.get("group") }), 200, {
      "content-type": "application/json",
    });
  };
  r.read("GET", "/functions", "the render functions kunai implements (graphite-web's /functions)", functions);
  r.read("GET", "/functions/", "the render functions kunai implements", functions);
  r.read("GET", "/functions/:name", "one render function's parameters", (c) => {
    const name = c.req.param("name") ?? "";
    const info = searchOf(c).get("type") === "pie" ? undefined : functionInfo(name);
    if (!info) return c.json({ error: `Function not found: ${name}` }, 404);
    return c.body(infinityJson(info), 200, { "content-type": "application/json" });
  });
  r.read("GET", "/metrics/index.json", "every metric name, sorted", async (c) => c.json(await api.names()));
  const list = async (c: ApiContext) => {
    const prefix = c.req.param("prefix") ?? "";
    return c.json((await api.names()).filter((n) => n.startsWith(prefix)));
  };
  r.read("GET", "/list/", "metric names", list);
  r.read("GET", "/list/:prefix{.+}", "metric names starting with prefix", list);
  const uiList = async (c: ApiContext) => {
    const prefix = (c.req.param("prefix") ?? "").replace(/\.$/, "");
    let nodes;
    try {
      nodes = findNodes(prefix ? `${prefix.replace(/[*?[\]{}]/g, "")}.*` : "*", await api.names());
    } catch (err) {
      badRequest(err);
    }
    return c.json(nodes.map((n) => ({ title: n.text, key: n.path, folder: n.branch, lazy: n.branch })));
  };
  r.read("GET", "/_ui_list/", "metric tree: top level", uiList);
  r.read("GET", "/_ui_list/:prefix{.+}", "metric tree: one level below prefix", uiList);
  tagRoutes(r, api);
  if (api.events) graphiteEventRoutes(r, api.events, () => api.nowMs?.() ?? api.nowSeconds() * 1000);
  return r;
}

/** A `limit` parameter: a whole number ≥ 0, or `fallback` when absent. */
function limitParam(p: URLSearchParams, fallback: number | null): number | null {
  const raw = p.get("limit");
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) {
    throw new HttpError(400, `limit: '${raw}' is not a whole number ≥ 0`);
  }
  return n;
}

/** `expr` (repeatable) or `expr[]`, as graphite-web reads them. */
function exprParams(p: URLSearchParams): string[] {
  const plain = p.getAll("expr");
  return plain.length ? plain : p.getAll("expr[]");
}

/** graphite-web's TAGDB_AUTOCOMPLETE_LIMIT. */
const AUTOCOMPLETE_LIMIT = 100;

/** graphite-web 1.1's tag API (read side): what Grafana's Graphite data source asks for tagged series. */
function tagRoutes(r: RouteTable, api: MetricsReadApi): void {
  const index = async () => tagIndexFor(await api.names());
  const run = async <T>(c: ApiContext, f: (p: URLSearchParams, ix: TagIndex) => T) => {
    const p = await params(c);
    const ix = await index();
    try {
      return c.json(f(p, ix));
    } catch (err) {
      badRequest(err);
    }
  };
  const list = (c: ApiContext) =>
    run(
      c,
      (p, ix) =>
        ix.listTags(p.get("filter") || null, limitParam(p, null), { steps: 0 }).map((tag) => ({ tag })),
    );
  r.read("GET", "/tags", "tag names (filter=regex, limit)", list);
  r.read("GET", "/tags/", "tag names (filter=regex, limit)", list);
  const findSeries = (c: ApiContext) =>
    run(c, (p, ix) => {
      const exprs = exprParams(p);
      if (exprs.length === 0) throw new HttpError(400, "no tag expressions specified (expr=tag=value)");
      return ix.findSeries(exprs, { steps: 0 });
    });
  r.read(
    "GET",
    "/tags/findSeries",
    "tagged series matching every expr= (seriesByTag's expressions)",
    findSeries,
  );
  r.read("POST", "/tags/findSeries", "tagged series matching every expr (form body)", findSeries);
  const autoTags = (c: ApiContext) =>
    run(
      c,
      (p, ix) =>
        ix.autoCompleteTags(exprParams(p), p.get("tagPrefix") || null, limitParam(p, AUTOCOMPLETE_LIMIT)!, {
          steps: 0,
        }),
    );
  r.read(
    "GET",
    "/tags/autoComplete/tags",
    "tag names of the series matching expr=, tagPrefix, limit",
    autoTags,
  );
  r.read("POST", "/tags/autoComplete/tags", "tag name completion (form body)", autoTags);
  const autoValues = (c: ApiContext) =>
    run(c, (p, ix) => {
      const tag = p.get("tag");
      if (!tag) throw new HttpError(400, "no tag specified (tag=...)");
      return ix.autoCompleteValues(
        exprParams(p),
        tag,
        p.get("valuePrefix") || null,
        limitParam(p, AUTOCOMPLETE_LIMIT)!,
        { steps: 0 },
      );
    });
  r.read(
    "GET",
    "/tags/autoComplete/values",
    "values of tag= in the series matching expr=, valuePrefix, limit",
    autoValues,
  );
  r.read("POST", "/tags/autoComplete/values", "tag value completion (form body)", autoValues);
  r.read(
    "GET",
    "/tags/:tag{.+}",
    "one tag's values with their series counts (filter=regex, limit); null if unknown",
    (c) =>
      run(c, (p, ix) => {
        const tag = c.req.param("tag") ?? "";
        if (!ix.hasTag(tag)) return null;
        return {
          tag,
          values: ix.listValues(tag, p.get("filter") || null, limitParam(p, null), { steps: 0 }),
        };
      }),
  );
}
