/**
 * Jinja2's statements where nunjucks' differ, parsed and compiled here (installed by
 * installJinjaSemantics):
 *
 * - **`for`**: the loop filter (`for n in nodes if n.alive`: nunjucks read `nodes if n.alive` as an
 *   inline if and looped over nothing, without a word), `recursive` with `loop(children)`,
 *   `loop.depth`, a body that is its own scope on each iteration (a `set` in it does not leak out,
 *   nor into the next iteration: nunjucks changed the outer variable), a dict walked by its keys,
 *   tuple targets unpacked as Python does, `none` or a number refused as not iterable.
 * - **`with`** (`{% with a = 1, b = x %}...{% endwith %}`): a scope with its own names, the values
 *   computed before any is bound.
 * - **`set`** inside a scope (loop, `with`, macro, call block, `{% set %}`/`{% filter %}` block)
 *   binds a name of that scope only.
 * - **macros and call blocks** read the names of the scope they are written in (closures), and get
 *   `varargs`/`kwargs`.
 * - **`raw`** as Jinja2 lexes it: trim_blocks does not apply after `{% raw %}`, lstrip_blocks and
 *   `-` do before `{% endraw %}`, trim_blocks after it; raw blocks do not nest.
 *
 * One module per statement: statements_for.ts, statements_with.ts, statements_set.ts (and
 * `{% set %}`/`{% filter %}` blocks), statements_macro.ts (and call blocks), statements_raw.ts;
 * what they share in statements_scope.ts.
 */
import type nunjucks from "nunjucks";
import { jinjaDefined, pyTruthy, unpack } from "./pyvalues.ts";
import type { Hooks, NodeCtor, Parser } from "./statements_scope.ts";
import { installFor } from "./statements_for.ts";
import { installWith } from "./statements_with.ts";
import { installRaw } from "./statements_raw.ts";
import { installMacros } from "./statements_macro.ts";
import { installSet } from "./statements_set.ts";

/** Installs the statements into nunjucks' parser, node types and compiler (once, from installJinjaSemantics). */
export function installStatements(nj: typeof nunjucks): void {
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: Parser } } }).parser;
  const lexer = (nj as unknown as { lexer: Record<string, string> }).lexer;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: Record<string, unknown> } } })
    .compiler.Compiler;
  const runtime = (nj as unknown as { runtime: Record<string, unknown> }).runtime;
  runtime.jinjaDefined ??= jinjaDefined;
  runtime.jinjaUnpack ??= unpack;
  runtime.jinjaTruthy ??= pyTruthy;
  const hooks: Hooks = { nodes, parser: Parser.prototype, lexer, compiler: Compiler.prototype, runtime };
  installFor(hooks);
  installWith(hooks);
  installRaw(hooks);
  installMacros(hooks);
  installSet(hooks);
}
