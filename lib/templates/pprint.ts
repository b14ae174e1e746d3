/**
 * Python's `pprint.pformat(v)` (width 80, indent 1, dicts sorted by key), which Jinja2's `pprint`
 * filter returns: the repr on one line when it fits, else a dict, list or tuple with one item a line
 * and a long string cut after its spaces into adjacent literals, as CPython's PrettyPrinter writes
 * them (`_format`, `_pprint_dict`, `_format_items`, `_pprint_str`). Pure.
 *
 * ```ts
 * pformat({ b: 1, a: [1, 2] }); // "{'a': [1, 2], 'b': 1}"
 * ```
 */
import { pyOrder, pyRepr, stringMethod } from "./pyvalues.ts";
import { pointLength } from "./pystrparts.ts";
import { isPlain, isTuple, viewKind } from "./pytypes.ts";

const WIDTH = 80;
/** Deeper than this prints `...` (a list a template appended to itself). */
const MAX_DEPTH = 50;

type Kind = "dict" | "list" | "tuple" | "str" | null;

/** The types PrettyPrinter lays out over several lines; null: printed as their repr. */
function kindOf(v: unknown): Kind {
  if (typeof v === "string" || v instanceof String) return "str";
  if (Array.isArray(v)) return isTuple(v) ? "tuple" : viewKind(v) ? null : "list";
  if (v instanceof Map || (v !== null && typeof v === "object" && isPlain(v))) return "dict";
  return null;
}

/** A dict's items sorted by key, as pprint's `sort_dicts` (keys of mixed types keep their order). */
function dictItems(v: unknown): Array<[unknown, unknown]> {
  const items: Array<[unknown, unknown]> = v instanceof Map ? [...v] : Object.entries(v as object);
  try {
    return items.sort((a, b) => pyOrder(a[0], b[0]));
  } catch {
    return items;
  }
}

/** repr() with dicts sorted at every level (pprint's `_safe_repr`). */
function safeRepr(v: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) return "...";
  switch (kindOf(v)) {
    case "dict":
      return "{" + dictItems(v).map(([k, x]) => `${safeRepr(k, depth + 1)}: ${safeRepr(x, depth + 1)}`)
        .join(", ") +
        "}";
    case "list":
      return "[" + (v as unknown[]).map((x) => safeRepr(x, depth + 1)).join(", ") + "]";
    case "tuple": {
      const items = (v as unknown[]).map((x) => safeRepr(x, depth + 1));
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    }
  }
  return pyRepr(v);
}

/** `pprint.pformat(v)`. */
export function pformat(v: unknown): string {
  const out: string[] = [];
  format(v, out, 0, 0, 0);
  return out.join("");
}

/** PrettyPrinter._format: the repr when it fits in what is left of the line, else laid out. */
function format(v: unknown, out: string[], indent: number, allowance: number, level: number): void {
  const rep = safeRepr(v);
  const kind = kindOf(v);
  if (kind === null || level > MAX_DEPTH || pointLength(rep) <= WIDTH - indent - allowance) {
    out.push(rep);
    return;
  }
  level++;
  if (kind === "str") return formatStr(String(v), out, indent, allowance, level);
  if (kind === "dict") {
    out.push("{");
    const items = dictItems(v);
    const inner = indent + 1;
    items.forEach(([k, x], i) => {
      const last = i === items.length - 1;
      const key = safeRepr(k);
      out.push(key, ": ");
      format(x, out, inner + pointLength(key) + 2, last ? allowance + 1 : 1, level);
      if (!last) out.push(",\n" + " ".repeat(inner));
    });
    out.push("}");
    return;
  }
  const list = v as unknown[];
  const [open, close] = kind === "list" ? ["[", "]"] : ["(", list.length === 1 ? ",)" : ")"];
  out.push(open);
  const inner = indent + 1;
  list.forEach((x, i) => {
    if (i) out.push(",\n" + " ".repeat(inner));
    format(x, out, inner, i === list.length - 1 ? allowance + close.length : 1, level);
  });
  out.push(close);
}

/** PrettyPrinter._pprint_str: each line, cut after its spaces, as adjacent literals (in parentheses at the top). */
function formatStr(s: string, out: string[], indent: number, allowance: number, level: number): void {
  if (!s) {
    out.push("''");
    return;
  }
  if (level === 1) {
    indent++;
    allowance++;
  }
  const lines = stringMethod(s, "splitlines")(true) as string[];
  const chunks: string[] = [];
  let rep = "";
  lines.forEach((line, i) => {
    rep = pyRepr(line);
    const lastLine = i === lines.length - 1;
    if (pointLength(rep) <= WIDTH - indent - (lastLine ? allowance : 0)) {
      chunks.push(rep);
      return;
    }
    const parts = line.match(/\S*\s*/gu)!; // (non-space, space) runs, then an empty match
    parts.pop();
    let current = "";
    parts.forEach((part, j) => {
      const candidate = current + part;
      const room = WIDTH - indent - (j === parts.length - 1 && lastLine ? allowance : 0);
      if (pointLength(pyRepr(candidate)) > room) {
        if (current) chunks.push(pyRepr(current));
        current = part;
      } else current = candidate;
    });
    if (current) chunks.push(pyRepr(current));
  });
  if (chunks.length === 1) {
    out.push(rep);
    return;
  }
  if (level === 1) out.push("(");
  out.push(chunks.join("\n" + " ".repeat(indent)));
  if (level === 1) out.push(")");
}
