/**
 * `set` inside a scope (loop, `with`, macro, call block, `{% set %}`/`{% filter %}` block) binds a
 * name of that scope only, at the top level also in the context; a `{% set %}` or `{% filter %}`
 * block is a body with its own scope. (jinja.ts compiles the `set` statement itself and calls
 * compileJinjaSetNames for names.)
 */
import { type Compiler, type Frame, type Hooks, lookupOf, type Node } from "./statements_scope.ts";

interface SetNode {
  targets: Node[];
  value: Node | null;
  body: Node | null;
}

/**
 * `{% set a = v %}` / `{% set a, b = pair %}` / `{% set a %}...{% endset %}`: binds in the innermost
 * scope's runtime frame (isolated: a loop's iteration, `with`, a macro), at the top level also in
 * the context (exported to an importer unless it starts with `_`).
 */
function compileSetNames(this: Compiler, node: SetNode, frame: Frame): void {
  const value = this._tmpid();
  this._emit(`var ${value} = `);
  if (node.value) this._compileExpression(node.value, frame);
  else this.compile(node.body, frame);
  this._emitLine(";");
  // each name with the JavaScript expression of its value: `set a, (b, c) = x` unpacks x, then x[1]
  const bindings: Array<[string, string]> = [];
  const unpack = (targets: Node[], from: string) => {
    const parts = this._tmpid();
    this._emitLine(`var ${parts} = runtime.jinjaUnpack(${from}, ${targets.length});`);
    targets.forEach((t, i) => bind(t, `${parts}[${i}]`));
  };
  const bind = (t: Node, from: string) => {
    if (t.typename === "Array") unpack(t.children ?? [], from);
    else bindings.push([t.value!, from]);
  };
  if (node.targets.length > 1) unpack(node.targets, value);
  else bind(node.targets[0], value);
  bindings.forEach(([name, v]) => {
    const n = JSON.stringify(name);
    this._emitLine(`frame.set(${n}, ${v}, true);`);
    this._emitLine(`if (frame.topLevel) { context.setVariable(${n}, ${v}); }`);
    if (!name.startsWith("_")) this._emitLine(`if (frame.topLevel) { context.addExport(${n}, ${v}); }`);
    // later reads in this scope read the frames (a loop variable or macro argument of the same name
    // compiled to its own JavaScript variable)
    frame.set(name, lookupOf(name));
  });
}

/** `{% set x %}...{% endset %}` and `{% filter f %}...{% endfilter %}`: a body with its own scope. */
function compileCapture(this: Compiler, node: { body: Node }, frame: Frame): void {
  const buffer = this.buffer;
  this.buffer = "output";
  this._emitLine("(function() {");
  this._emitLine('var output = "";');
  this._emitLine("frame = frame.push(true);");
  const scope = frame.push(true);
  this._withScopedSyntax(() => this.compile(node.body, scope));
  this._emitLine("frame = frame.pop();");
  this._emitLine("return output;");
  this._emitLine("})()");
  this.buffer = buffer;
}

/** The parser as `{% filter %}` reads it. */
export interface FilterParser {
  peekToken(): { value: string; lineno: number; colno: number };
  skip(type: string): boolean;
  skipSymbol(name: string): boolean;
  fail(msg: string): never;
  parseFilterName(): Node;
  parseFilterArgs(name: Node): Node[];
  advanceAfterBlockEnd(name?: string): unknown;
  parseUntilBlocks(...names: string[]): Node;
}

/**
 * `{% filter indent(2)|upper %}...{% endfilter %}`: the body through each filter in turn (nunjucks read
 * one filter and refused the `|`).
 */
function parseFilterBlock(this: FilterParser, nodes: Hooks["nodes"]): Node {
  const tag = this.peekToken();
  if (!this.skipSymbol("filter")) this.fail("parseFilterStatement: expected filter");
  const node = parseFilteredBody.call(this, nodes, tag.value, "endfilter");
  return new nodes.Output(node.lineno, node.colno, [node]);
}

/**
 * `f(args)|g %}body{% end` after a `filter` tag or `{% set x |` (Jinja2's filtered block set): the body
 * captured, through each filter in turn.
 */
export function parseFilteredBody(this: FilterParser, nodes: Hooks["nodes"], tag: string, end: string): Node {
  const chain: Array<[Node, Node[]]> = [];
  do {
    const name = this.parseFilterName();
    chain.push([name, this.parseFilterArgs(name)]);
  } while (this.skip("pipe"));
  this.advanceAfterBlockEnd(tag);
  const [first] = chain[0];
  let node: Node = new nodes.Capture(first.lineno, first.colno, this.parseUntilBlocks(end));
  this.advanceAfterBlockEnd();
  for (const [name, args] of chain) {
    node = new nodes.Filter(
      name.lineno,
      name.colno,
      name,
      new nodes.NodeList(name.lineno, name.colno, [node, ...args]),
    );
  }
  return node;
}

/** Installs the scoped `set` of names and of `{% set %}`/`{% filter %}` blocks into the compiler. */
export function installSet(h: Hooks): void {
  (h.parser as unknown as Record<string, unknown>).parseFilterStatement = function (this: FilterParser) {
    return parseFilterBlock.call(this, h.nodes);
  };
  h.compiler.compileCapture = compileCapture;
  h.compiler.compileJinjaSetNames = compileSetNames;
}
