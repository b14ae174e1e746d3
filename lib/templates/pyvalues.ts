/**
 * Python's values and operators as Jinja2 templates see them (pure), one module per concern:
 * the kinds of values (types, tuples, dict views, `namespace()`, truthiness, unpacking) in
 * pytypes.ts, `str()`/`repr()` in pyrepr.ts, the operators (equality, ordering, `in`, arithmetic,
 * `%` formatting, repetition) in pyoperators.ts, the `str` methods in pystrmethods.ts.
 * lib/templates/jinja.ts patches them into nunjucks; this module gathers them for their importers.
 */
export {
  dictView,
  isDictView,
  isNumber,
  isPlain,
  isTuple,
  jinjaDefined,
  JinjaNamespace,
  PY_REPR,
  pyNamed,
  pyTruthy,
  pyType,
  tuple,
  unpack,
} from "./pytypes.ts";
export { pyRepr, pyStr, toPy } from "./pyrepr.ts";
export { pyAdd, pyArith, pyCompare, pyEq, pyIn, pyMod, pyMul, pyOrder, pyUnary } from "./pyoperators.ts";
export { isStringMethod, stringMethod } from "./pystrmethods.ts";
