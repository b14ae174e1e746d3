/**
 * Functions that pick, order or cut series (pure), as graphite-web does: highest/lowest by a
 * value, the filters currentAbove, averageBelow, maximumAbove..., limit, sortByName, and
 * removeEmptySeries. Series keep their names.
 */
import { type FunctionDef, type ParamDef, type Series } from "./render_core.ts";
import { AGG_FUNC_NAMES, aggFunc } from "./render_series.ts";
import { highest, SERIES } from "./render_fn_basic.ts";

const N_INT: ParamDef = { name: "n", type: "integer", required: true };
const N_FLOAT: ParamDef = { name: "n", type: "float", required: true };

type Operator = "=" | "!=" | ">" | ">=" | "<" | "<=";

/** graphite-web's operatorFuncs: a null value passes "!=", "<" and "<=" and fails the others. */
function compare(v: number | null, op: Operator, t: number): boolean {
  switch (op) {
    case "=":
      return v !== null && v === t;
    case "!=":
      return v === null || v !== t;
    case ">":
      return v !== null && v > t;
    case ">=":
      return v !== null && v >= t;
    case "<":
      return v === null || v < t;
    case "<=":
      return v === null || v <= t;
  }
}

function filterSeries(list: Series[], func: string, op: Operator, threshold: number): Series[] {
  const f = aggFunc("filterSeries", func);
  return list.filter((s) => compare(f(s.values), op, threshold));
}

const pick = (func: string, lowest: boolean, description: string): FunctionDef => ({
  group: "Filter Series",
  description,
  params: [SERIES, N_INT],
  apply: (_fn, p) => highest(p.list("seriesList"), p.num("n"), func, lowest),
});

const filter = (func: string, op: Operator, description: string): FunctionDef => ({
  group: "Filter Series",
  description,
  params: [SERIES, N_FLOAT],
  apply: (_fn, p) => filterSeries(p.list("seriesList"), func, op, p.num("n")),
});

/** graphite-web's natural sort key: every run of digits zero-padded to 10. */
const naturalKey = (name: string) => name.replace(/\d+/g, (d) => String(BigInt(d)).padStart(10, "0"));

export const FILTER_FUNCTIONS: Record<string, FunctionDef> = {
  highest: {
    group: "Filter Series",
    description: "The n series whose func (average by default) is highest.",
    params: [SERIES, N_INT, { name: "func", type: "aggFunc", default: "average", options: AGG_FUNC_NAMES }],
    apply: (_fn, p) => highest(p.list("seriesList"), p.num("n"), p.str("func")),
  },
  lowest: {
    group: "Filter Series",
    description: "The n series whose func (average by default) is lowest.",
    params: [SERIES, N_INT, { name: "func", type: "aggFunc", default: "average", options: AGG_FUNC_NAMES }],
    apply: (_fn, p) => highest(p.list("seriesList"), p.num("n"), p.str("func"), true),
  },
  highestAverage: pick("average", false, "The n series with the highest average."),
  highestMax: pick("max", false, "The n series with the highest maximum."),
  lowestCurrent: pick("current", true, "The n series whose last value is lowest."),
  lowestAverage: pick("average", true, "The n series with the lowest average."),
  currentAbove: filter("last", ">", "The series whose last value is above n."),
  currentBelow: filter("last", "<=", "The series whose last value is at most n (or that have none)."),
  averageAbove: filter("average", ">", "The series whose average is above n."),
  averageBelow: filter("average", "<=", "The series whose average is at most n (or that have none)."),
  maximumAbove: filter("max", ">", "The series whose maximum is above n."),
  maximumBelow: filter("max", "<=", "The series whose maximum is at most n (or that have none)."),
  minimumAbove: filter("min", ">", "The series whose minimum is above n."),
  minimumBelow: filter("min", "<=", "The series whose minimum is at most n (or that have none)."),
  filterSeries: {
    group: "Filter Series",
    description: "The series whose func compared with operator to threshold holds.",
    params: [
      SERIES,
      { name: "func", type: "aggFunc", required: true, options: AGG_FUNC_NAMES },
      { name: "operator", type: "string", required: true, options: ["!=", "<", "<=", "=", ">", ">="] },
      { name: "threshold", type: "float", required: true },
    ],
    apply: (_fn, p) =>
      filterSeries(p.list("seriesList"), p.str("func"), p.str("operator") as Operator, p.num("threshold")),
  },
  limit: {
    group: "Filter Series",
    description: "The first n series (a negative n drops that many from the end).",
    params: [SERIES, N_INT],
    apply: (_fn, p) => p.list("seriesList").slice(0, p.num("n")),
  },
  removeEmptySeries: {
    group: "Filter Series",
    description: "Drops the series with no value, or less than the xFilesFactor fraction of values.",
    params: [SERIES, { name: "xFilesFactor", type: "float" }],
    apply: (_fn, p) => {
      const xff = p.has("xFilesFactor") ? p.num("xFilesFactor") : 0;
      return p.list("seriesList").filter((s) => {
        const n = s.values.filter((v) => v !== null).length;
        return n > 0 && n / s.values.length >= xff;
      });
    },
  },
  sortByName: {
    group: "Sorting",
    description: "Sorts the series by name (natural: numbers by value; reverse: descending).",
    params: [SERIES, { name: "natural", type: "boolean", default: false }, {
      name: "reverse",
      type: "boolean",
      default: false,
    }],
    apply: (_fn, p) => {
      const key = p.bool("natural") ? (s: Series) => naturalKey(s.name) : (s: Series) => s.name;
      const sign = p.bool("reverse") ? -1 : 1;
      return [...p.list("seriesList")].sort((a, b) => {
        const x = key(a);
        const y = key(b);
        return x < y ? -sign : x > y ? sign : 0;
      });
    },
  },
};
