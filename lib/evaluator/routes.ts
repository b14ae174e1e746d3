/**
 * HTTP routes of the evaluator (reference §1 `evaluator list|eval`): thin — parse the request, call
 * the evaluator, shape the answer. `eval` is a write route: it reads files and configuration.
 */
import { type ApiContext, HttpError, readText, RouteTable } from "../routing/mod.ts";
import { EvalError } from "./errors.ts";
import { toPlain } from "./values.ts";

/** The slice of the evaluator the routes call (avoids a cycle with mod.ts). */
export interface EvaluatorApi<E> {
  evaluateRaw(expr: string, env: E): Promise<unknown>;
  functionNames(): string[];
}

/** Builds the router; `env()` is read per request so collector results are current. */
export function evaluatorRoutes<E>(env: () => E, api: EvaluatorApi<E>): RouteTable {
  const r = new RouteTable("evaluator");
  r.read("GET", "/agent/evaluator/list", "names of the functions expressions may call", (c) => {
    return c.json(api.functionNames());
  });
  r.write("POST", "/agent/evaluator/eval", "evaluate an expression on this node", async (c) => {
    let expr: string;
    try {
      expr = await readExpr(c);
    } catch (err) {
      if (err instanceof HttpError) return c.json({ error: err.message, detail: err.detail }, err.status);
      throw err;
    }
    try {
      const value = toPlain(await api.evaluateRaw(expr, env()));
      return c.json(jsonSafe(value));
    } catch (err) {
      if (err instanceof EvalError) {
        return c.json(
          { error: err.message, detail: { kind: err.kind, column: err.column ?? null, expr } },
          400,
        );
      }
      throw err;
    }
  });
  return r;
}

/** JSON has no inf/nan: send them as strings like Python prints them. */
function jsonSafe(v: unknown): unknown {
  if (typeof v === "number" && !Number.isFinite(v)) return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
  if (Array.isArray(v)) return v.map(jsonSafe);
  return v === undefined ? null : v;
}

/** Form `expr=<base64>` (the original CLI), JSON `{"expr": "..."}`, or a form/query `expr` in clear. */
async function readExpr(c: ApiContext): Promise<string> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  const text = await readText(c);
  if (type.includes("application/json") || text.trimStart().startsWith("{")) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `invalid JSON body: ${(err as Error).message}`);
    }
    const expr = (body as { expr?: unknown } | null)?.expr;
    if (typeof expr !== "string") throw new HttpError(400, 'JSON body needs a string field "expr"');
    return expr;
  }
  const form = new URLSearchParams(text);
  const raw = form.get("expr") ?? c.req.query("expr");
  if (raw === null || raw === undefined) {
    throw new HttpError(400, 'missing expr: send form expr=<base64> or JSON {"expr": "..."}');
  }
  return decodeBase64Text(raw);
}

/** Decodes standard or URL-safe base64 into UTF-8 text; 400 when it is not base64. */
export function decodeBase64Text(raw: string): string {
  const clean = raw.trim().replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.replace(/=+$/, "").length % 4 === 1) {
    throw new HttpError(400, "expr is not valid base64");
  }
  const padded = clean.replace(/=+$/, "") + "=".repeat((4 - (clean.replace(/=+$/, "").length % 4)) % 4);
  const bin = atob(padded);
  const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "expr is base64 but not UTF-8 text");
  }
}
