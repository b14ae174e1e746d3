/**
 * Jinja2's semantics where nunjucks silently differs, patched into nunjucks once per process
 * (after its own `installJinjaCompat`), so a template written for the Python kunai renders the
 * same text here:
 *
 * - **Truthiness**: `{% if nodes %}`, `not`, `and`/`or` and `x if c else y` follow Python: an
 *   empty list or dict is false (JavaScript's `[]` and `{}` are true, which took the wrong branch
 *   without a word). `a or b` gives `a` or `b` as Python does, not a boolean.
 * - **Output**: `{{ True }}` prints `True`, `{{ None }}` `None`, a list `[1, 'a']` and a dict
 *   `{'a': 1}` as Python's `str()` does (nunjucks printed `true`, nothing, `1,a` and
 *   `[object Object]`). A float prints as Python's repr (`1e-05`, `2.0` when the template made it
 *   a float); an integral float from the data prints `1`, since JSON cannot tell 1.0 from 1.
 * - **`~`** joins Python's `str()` of each side (`'n=' ~ None` is `n=None`, not `n=null`).
 * - **String methods**: `s.startswith('x')`, `upper()`, `lower()`, `strip()`, `split()` (on
 *   whitespace without an argument), `replace()` (every occurrence, as Python; JavaScript's replaces
 *   the first only), `join()`, `find()`, `count()`, `title()`...
 *
 * - **Operators**: `'%s-%s' % (a, b)` formats as Python (it gave NaN), `'-' * 3` repeats, `(a, b)`
 *   is a tuple (JavaScript's comma operator kept the last item), `%` takes the divisor's sign,
 *   `s[1:3]` is a string and `d.get('k')` is None when missing.
 *
 * - **Precedence**: Jinja2's operator levels (jinja_precedence.ts).
 * - **Syntax**: number literals with an exponent (`1e3`, `2E-2`, see patchLexer), a test's argument
 *   without parentheses (`x is divisibleby 3`); calls in calls.ts; literals with a trailing comma,
 *   `(1,)`, tuples without parentheses (`{{ a, b }}`) and targets in parentheses in jinja_tuples.ts.
 *
 * - **`set`**: `{% set ns.x = v %}` on a `namespace()` and `{% set a, b = pair %}` unpacking.
 * - **Undefined values and types**: an attribute or item of an undefined value, arithmetic and
 *   ordering with one raise UndefinedError, as Jinja2's default Undefined does (nunjucks printed
 *   nothing, `nan` or took a branch); `-`, `/`, `//`, `**` and `%` take numbers only and `<` what
 *   Python orders (TypeError otherwise, where JavaScript coerced: `none - 1` was -1); a division by
 *   zero raises (it printed `inf`). A runtime error names the line it happened on.
 * - **Whitespace**: the `+` markers (`{%+`, `+%}`, see plusMarkers).
 *
 * Template text reaches the compiled JavaScript as data only (string literals quoted by JSON's rules,
 * names identifiers): codegen.ts. Python's values and operators themselves are in pyvalues.ts,
 * statements (`for`, `with`, `raw`, scoping of `set`) in statements.ts, floats the template makes
 * (`4 / 2` prints 2.0) in pyfloat.ts. What stays different: an integral float from the data
 * prints without a trailing `.0` (JSON cannot tell 2.0 from 2).
 *
 * The patches, in the order installJinjaSemantics applies them (nunjucks' patches wrap each other,
 * so the order matters): the runtime's helpers and lookups (jinja_runtime.ts), the lexer
 * (jinja_lexer.ts), a test's argument (jinja_syntax.ts), calls (calls.ts), literals and tuples
 * (jinja_tuples.ts), float literals
 * (jinja_syntax.ts), safe code generation (codegen.ts), statements (statements.ts), then the
 * compiler's expressions, `set` and error lines (jinja_expressions.ts).
 */
import type nunjucks from "nunjucks";
import { installStatements } from "./statements.ts";
import { installSafeCodegen } from "./codegen.ts";
import { installCalls } from "./calls.ts";
import { installRuntime } from "./jinja_runtime.ts";
import { patchLexer } from "./jinja_lexer.ts";
import { patchFloatLiterals, patchTestArguments } from "./jinja_syntax.ts";
import { installExpressions } from "./jinja_expressions.ts";
import { installTuples } from "./jinja_tuples.ts";
import { installNameChecks } from "./jinja_names.ts";
import { installPrecedence } from "./jinja_precedence.ts";
export {
  isNumber,
  isPlain,
  isStringMethod,
  jinjaDefined,
  JinjaNamespace,
  pyAdd,
  pyArith,
  pyCompare,
  pyEq,
  pyIn,
  pyMod,
  pyMul,
  pyOrder,
  pyStr,
  pyTruthy,
  pyType,
  pyUnary,
  stringMethod,
  toPy,
  tuple,
  unpack,
} from "./pyvalues.ts";
export { nodeText } from "./jinja_expressions.ts";

let installed = false;

/** Patches nunjucks (its compiler and runtime) with Jinja2's semantics; once per process. */
export function installJinjaSemantics(nj: typeof nunjucks): void {
  if (installed) return;
  installed = true;
  installRuntime(nj);
  patchLexer(nj);
  patchTestArguments(nj);
  installCalls(nj);
  installTuples(nj);
  installPrecedence(nj);
  patchFloatLiterals(nj);
  installSafeCodegen(nj);
  installStatements(nj);
  installExpressions(nj);
  installNameChecks(nj);
}
