/**
 * Each filter's and test's parameters, as Jinja2 declares them, and their binding (bind.ts):
 * nunjucks passes the positional arguments and then one object of the keyword ones, and each filter
 * read the keywords it knew, so any other (`truncate(9, leeway=0)` before it was read, a typo such as
 * `int(defualt=1)`) was silently ignored. Jinja2 raises a TypeError for an unexpected keyword, a
 * keyword given a value twice, too many arguments or a missing one; kunai now does too, and passes
 * each filter its arguments by position only.
 */
import type nunjucks from "nunjucks";
import { registryOf } from "./filters_common.ts";
import { bindArgs, parseSignature, type Signature } from "./bind.ts";

/**
 * The Jinja2 filters' signatures; `dump` and `nl2br` are nunjucks' own (Jinja2 has neither), with
 * nunjucks' parameters.
 */
const FILTERS: Record<string, Signature> = {
  abs: "/",
  attr: "name",
  batch: "linecount, fill_with?",
  capitalize: "",
  center: "width?",
  count: "/",
  // bound by the filter itself, which tells a default given as an undefined value from none given
  d: "*",
  default: "*",
  dictsort: "case_sensitive?, by?, reverse?",
  dump: "spaces?",
  e: "/",
  escape: "/",
  filesizeformat: "binary?",
  first: "",
  float: "default?",
  forceescape: "",
  format: "*",
  groupby: "attribute, default?, case_sensitive?",
  indent: "width?, first?, blank?",
  int: "default?, base?",
  items: "",
  join: "d?, attribute?",
  last: "",
  length: "/",
  list: "",
  lower: "",
  map: "*",
  max: "case_sensitive?, attribute?",
  min: "case_sensitive?, attribute?",
  nl2br: "",
  pprint: "",
  random: "",
  reject: "*",
  rejectattr: "*",
  replace: "old, new, count?",
  reverse: "",
  round: "precision?, method?",
  safe: "",
  select: "*",
  selectattr: "*",
  slice: "slices, fill_with?",
  sort: "reverse?, case_sensitive?, attribute?",
  string: "/",
  striptags: "",
  sum: "attribute?, start?",
  title: "",
  tojson: "indent?",
  trim: "chars?",
  truncate: "length?, killwords?, end?, leeway?",
  unique: "case_sensitive?, attribute?",
  upper: "",
  urlencode: "",
  urlize: "trim_url_limit?, nofollow?, target?, rel?, extra_schemes?",
  wordcount: "",
  wordwrap: "width?, break_long_words?, wrapstring?, break_on_hyphens?",
  xmlattr: "autospace?",
};

/** The Jinja2 tests' signatures (the operators' are positional-only); `truthy`, `falsy`, `null` are nunjucks'. */
const TESTS: Record<string, Signature> = {
  "!=": "b, /",
  "<": "b, /",
  "<=": "b, /",
  "==": "b, /",
  ">": "b, /",
  ">=": "b, /",
  boolean: "",
  callable: "/",
  defined: "",
  divisibleby: "num",
  eq: "b, /",
  equalto: "b, /",
  escaped: "",
  even: "",
  false: "",
  falsy: "",
  filter: "",
  float: "",
  ge: "b, /",
  greaterthan: "b, /",
  gt: "b, /",
  in: "seq",
  integer: "",
  iterable: "",
  le: "b, /",
  lessthan: "b, /",
  lower: "",
  lt: "b, /",
  mapping: "",
  ne: "b, /",
  none: "",
  null: "",
  number: "",
  odd: "",
  sameas: "other",
  sequence: "",
  string: "",
  test: "",
  true: "",
  truthy: "",
  undefined: "",
  upper: "",
};

/**
 * Wraps each filter and test of the environment so that it is called with its arguments bound to
 * Jinja2's parameters (bindArgs); a filter taking any arguments (`*`) gets them as nunjucks passes
 * them. A filter or test missing from the tables is a programming error, raised when the environment
 * is made, so that none slips through unchecked.
 */
export function bindArguments(env: nunjucks.Environment): void {
  const registry = registryOf(env);
  for (const [kind, table] of [["filters", FILTERS], ["tests", TESTS]] as const) {
    for (const [name, f] of Object.entries(registry[kind])) {
      if (!Object.hasOwn(table, name)) {
        throw new Error(`no Jinja2 signature for the ${kind.slice(0, -1)} ${name}`);
      }
      const params = parseSignature(table[name]);
      if (params === null) continue;
      const label = `${kind === "filters" ? "filter" : "test"} ${name}`;
      registry[kind][name] = function (this: unknown, v: unknown, ...args: unknown[]) {
        return f.call(this, v, ...bindArgs(label, params, args, " after the value"));
      };
    }
  }
}
