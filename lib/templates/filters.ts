/**
 * The Jinja2 filters nunjucks does not have, so templates written for the Python kunai render the
 * same: `format`, `tojson`, `items`, `map`, `unique`, `min`, `max` and the `d` alias of `default`;
 * and Jinja2's behaviour for those nunjucks has differently: `groupby` (a list of
 * `(grouper, list)`), `selectattr`/`rejectattr` with a test, `sum(attribute=)`, Python truthiness in
 * `select`, `reject` and `default(x, true)`, `tojson` as Jinja2 prints it (sorted keys, `", "`,
 * HTML-safe), and Jinja2's keyword arguments (`join(attribute='name')`, `indent(width=2)`...) for all
 * of them, an unknown one refused (filters_args.ts).
 *
 * Each group is in its own module: filters_strings.ts, filters_dicts.ts (mappings, `tojson`,
 * `default`), filters_seq.ts, filters_numbers.ts, filters_tests.ts (Jinja2's tests) and
 * filters_globals.ts (`range`, `dict`, `namespace`, `cycler`, `joiner`); filters_common.ts holds
 * what they share, filters_args.ts each one's parameters.
 */
import type nunjucks from "nunjucks";
import { type Fmt, registryOf } from "./filters_common.ts";
import { registerStringFilters } from "./filters_strings.ts";
import { registerDictFilters } from "./filters_dicts.ts";
import { registerSequenceFilters } from "./filters_seq.ts";
import { registerNumberFilters } from "./filters_numbers.ts";
import { registerTests } from "./filters_tests.ts";
import { registerGlobals } from "./filters_globals.ts";
import { unbox } from "./pyfloat.ts";
import { bindArguments } from "./filters_args.ts";

/** Adds the filters to a nunjucks environment. */
export function installFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  const registry = registryOf(env);
  const builtins = { filters: { ...registry.filters }, tests: { ...registry.tests } };
  addFilters(env, formatPercent);
  // nunjucks' own filters and tests left as they are take a boxed float (pyfloat.ts) as its number
  for (const kind of ["filters", "tests"] as const) {
    for (const [name, f] of Object.entries(registry[kind])) {
      if (builtins[kind][name] !== f) continue;
      registry[kind][name] = function (this: unknown, ...args: unknown[]) {
        return f.apply(this, args.map(unbox));
      };
    }
  }
  // nunjucks' own that Jinja2 lacks are no names here either (`x|dump` is Jinja2's "No filter named 'dump'")
  for (const name of NOT_JINJA2.filters) delete registry.filters[name];
  for (const name of NOT_JINJA2.tests) delete registry.tests[name];
  // last, around all of them: each called with its arguments bound to Jinja2's parameters
  bindArguments(env);
}

/** nunjucks' filters and tests Jinja2 does not have. */
const NOT_JINJA2 = { filters: ["dump", "nl2br"], tests: ["falsy", "truthy"] };
/** nunjucks' test `x is none` compiles to, which a template cannot name (`x is null` is no test in Jinja2). */
const INTERNAL_TESTS = ["null"];

/** The filters and tests a template may name in `env` (jinja_names.ts refuses others when compiling). */
export function filterNames(env: nunjucks.Environment): { filters: Set<string>; tests: Set<string> } {
  const registry = registryOf(env);
  const tests = Object.keys(registry.tests).filter((t) => !INTERNAL_TESTS.includes(t));
  return { filters: new Set(Object.keys(registry.filters)), tests: new Set(tests) };
}

/** Adds each group of Jinja2's filters, tests and globals. */
function addFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  registerStringFilters(env, formatPercent);
  registerDictFilters(env);
  registerSequenceFilters(env);
  registerTests(env);
  registerNumberFilters(env, formatPercent);
  registerGlobals(env);
}
