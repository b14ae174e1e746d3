/**
 * Naming, constant and graph-only functions (pure), as graphite-web names them: aliasByMetric,
 * aliasSub, grep, exclude (Python regular expressions, see py_regex.ts), constantLine, threshold,
 * and the functions that only style a graph (color, lineWidth, alpha, dashed, secondYAxis,
 * stacked): for json they change what graphite-web changes (a name, stacked's values), no more.
 */
import { type FnContext, type FunctionDef, FunctionError, MAX_STACKS, type Series } from "./render_core.ts";
import { SERIES } from "./render_fn_basic.ts";
import { pyFloat, pyG } from "../py_number.ts";
import { compilePyRegex, pySub } from "./py_regex.ts";

/** graphite-web's substr(name, -1, 0): the last node of the innermost path, up to a comma. */
function aliasByMetric(name: string): string {
  const left = name.lastIndexOf("(") + 1;
  const right = name.indexOf(")");
  const clean = name.slice(left, right < 0 ? name.length + 1 : right);
  return clean.split(".").slice(-1).join(".").replace(/,.*$/, "");
}

/** graphite-web's constantLine: three points over the request's range, named after the value. */
function constantLine(fn: string, ctx: FnContext, value: number): Series {
  const start = Math.trunc(ctx.from);
  const end = Math.trunc(ctx.until);
  const step = Math.trunc((end - start) / 2);
  if (step < 1) throw new FunctionError(fn, `the time range (${end - start} s) is too short for a line`);
  return {
    name: pyFloat(value),
    pathExpression: `constantLine(${pyFloat(value)})`,
    start,
    end,
    step,
    values: [value, value, value],
  };
}

function stacked(list: Series[], stack: string, ctx: FnContext): Series[] {
  // graphite-web keeps one running total per stack name for the whole request
  let total = ctx.stacks.get(stack);
  if (!total) {
    if (ctx.stacks.size >= MAX_STACKS) {
      throw new FunctionError("stacked", `more than ${MAX_STACKS} stack names in one request`);
    }
    ctx.stacks.set(stack, total = []);
  }
  return list.map((s) => {
    const values = s.values.map((v, i) => {
      if (total.length <= i) total.push(0);
      if (v === null) return null;
      total[i] += v;
      return total[i];
    });
    const name = stack === DEFAULT_STACK ? `stacked(${s.name})` : s.name;
    return { ...s, name, pathExpression: name, values };
  });
}
const DEFAULT_STACK = "__DEFAULT__";

const unchanged = (description: string, extra: FunctionDef["params"]): FunctionDef => ({
  group: "Graph",
  description,
  params: [SERIES, ...extra],
  apply: (_fn, p) => p.list("seriesList"),
});

/** A regular expression argument compiled once (FunctionError for what cannot be translated). */
function regexArg(fn: string, pattern: string, ctx: FnContext) {
  return compilePyRegex(fn, pattern, ctx.regex);
}

export const ALIAS_FUNCTIONS: Record<string, FunctionDef> = {
  aliasByMetric: {
    group: "Alias",
    description: "Names each series after the last node of its path.",
    params: [SERIES],
    apply: (_fn, p) => p.list("seriesList").map((s) => ({ ...s, name: aliasByMetric(s.name) })),
  },
  aliasSub: {
    group: "Alias",
    description: "Renames with a Python regular expression substitution (\\1 or \\g<name> in replace).",
    params: [SERIES, { name: "search", type: "string", required: true }, {
      name: "replace",
      type: "string",
      required: true,
    }],
    apply: (fn, p, ctx) => {
      const re = regexArg(fn, p.str("search"), ctx);
      return p.list("seriesList").map((s) => ({ ...s, name: pySub(fn, re, p.str("replace"), s.name) }));
    },
  },
  grep: {
    group: "Filter Series",
    description: "The series whose name a Python regular expression matches.",
    params: [SERIES, { name: "pattern", type: "string", required: true }],
    apply: (fn, p, ctx) => {
      const re = regexArg(fn, p.str("pattern"), ctx);
      return p.list("seriesList").filter((s) => re.search(s.name) !== null);
    },
  },
  exclude: {
    group: "Filter Series",
    description: "The series whose name a Python regular expression does not match.",
    params: [SERIES, { name: "pattern", type: "string", required: true }],
    apply: (fn, p, ctx) => {
      const re = regexArg(fn, p.str("pattern"), ctx);
      return p.list("seriesList").filter((s) => re.search(s.name) === null);
    },
  },
  constantLine: {
    group: "Special",
    description: "A line at value over the requested range.",
    params: [{ name: "value", type: "float", required: true }],
    apply: (fn, p, ctx) => [constantLine(fn, ctx, p.num("value"))],
  },
  threshold: {
    group: "Graph",
    description: "constantLine(value) named label (color is for graphs only).",
    params: [{ name: "value", type: "float", required: true }, { name: "label", type: "string" }, {
      name: "color",
      type: "string",
    }],
    apply: (fn, p, ctx) => {
      const s = constantLine(fn, ctx, p.num("value"));
      return [p.has("label") && p.str("label") !== "" ? { ...s, name: p.str("label") } : s];
    },
  },
  color: unchanged("Graphs only: the series as they are.", [{
    name: "theColor",
    type: "string",
    required: true,
  }]),
  lineWidth: unchanged("Graphs only: the series as they are.", [{
    name: "width",
    type: "float",
    required: true,
  }]),
  alpha: unchanged("Graphs only: the series as they are.", [{
    name: "alpha",
    type: "float",
    required: true,
  }]),
  dashed: {
    group: "Graph",
    description: "Graphs only: the series as they are, named dashed(name, dashLength).",
    params: [SERIES, { name: "dashLength", type: "integer", default: 5 }],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) => ({ ...s, name: `dashed(${s.name}, ${pyG(p.num("dashLength"))})` })),
  },
  secondYAxis: {
    group: "Graph",
    description: "Graphs only: the series as they are, named secondYAxis(name).",
    params: [SERIES],
    apply: (_fn, p) => p.list("seriesList").map((s) => ({ ...s, name: `secondYAxis(${s.name})` })),
  },
  stacked: {
    group: "Graph",
    description: "Running totals across the series (of this request, per stack name).",
    params: [SERIES, { name: "stack", type: "string" }],
    apply: (_fn, p, ctx) =>
      stacked(p.list("seriesList"), p.has("stack") ? p.str("stack") : DEFAULT_STACK, ctx),
  },
};
