/**
 * nunjucks' compiler patched with Jinja2's expression semantics (installed by installJinjaSemantics,
 * last, after the statements): Python's truthiness in `if`, `not`, `and`/`or` and `x if c else y`,
 * its operators (`%`, `*`, `-`, `/`, `//`, `**`, `~`, `+`, `in`, comparison chains) with undefined
 * operands raising, tuples, attribute and item lookups of undefined values, `{% set ns.x %}` and
 * `{% set a, b = pair %}`, and the line a runtime error names.
 */
import type nunjucks from "nunjucks";
import { strRepr } from "../evaluator/mod.ts";
import type { ItemLookup } from "./calls.ts";
import { pyStr } from "./pyvalues.ts";
import { jsString } from "./codegen.ts";
import type { Runtime } from "./jinja_runtime.ts";

/** nunjucks' Compiler.prototype, as the patches below see it. */
export interface CompilerProto {
  compile(node: unknown, frame: unknown): void;
  _emit(code: string): void;
  _emitLine(code: string): void;
  _compileExpression(node: unknown, frame: unknown): void;
  _withScopedSyntax(fn: () => void): void;
  compileIf(node: IfNode, frame: unknown, async?: boolean): void;
  compileInlineIf(node: IfNode, frame: unknown): void;
  compileNot(node: { target: unknown }, frame: unknown): void;
  compileOr(node: BinNode, frame: unknown): void;
  compileAnd(node: BinNode, frame: unknown): void;
  compileConcat(node: BinNode, frame: unknown): void;
  compileMod(node: BinNode, frame: unknown): void;
  compileMul(node: BinNode, frame: unknown): void;
  compileGroup(node: { children: unknown[] }, frame: unknown): void;
  _compileAggregate(node: unknown, frame: unknown, start: string, end: string): void;
  _emitLoopBindings(node: unknown, arr: string, i: string, len: string): void;
  _tmpid(): string;
  compileSet(node: SetNode, frame: unknown): void;
  compileCompare(node: { expr: unknown; ops: Array<{ type: string; expr: unknown }> }, frame: unknown): void;
  compileAdd(node: BinNode, frame: unknown): void;
  compileIn(node: BinNode, frame: unknown): void;
  compileSub(node: BinNode, frame: unknown): void;
  compileDiv(node: BinNode, frame: unknown): void;
  compileFloorDiv(node: BinNode, frame: unknown): void;
  compilePow(node: BinNode, frame: unknown): void;
  compileNeg(node: { target: unknown }, frame: unknown): void;
  compilePos(node: { target: unknown }, frame: unknown): void;
  compileLookupVal(node: { target: unknown; val: unknown }, frame: unknown): void;
  compileFor(node: { name: { typename: string }; arr: unknown }, frame: unknown): void;
}
/** nunjucks' compile error: a TemplateError at the node's line. */
interface Fail {
  fail(msg: string, lineno?: number, colno?: number): never;
}
interface SetNode {
  targets: Array<{ typename: string; value?: string; target?: unknown; val?: unknown }>;
  value: unknown;
  body: unknown;
}
interface IfNode {
  cond: unknown;
  body: unknown;
  else_: unknown;
}
interface BinNode {
  left: unknown;
  right: unknown;
}

/** An expression's text as an error names it (`nodes[0].name`, `check.output`), from its parsed node. */
export function nodeText(node: unknown, depth = 0): string {
  const n = node as {
    typename: string;
    value?: unknown;
    target?: unknown;
    val?: unknown;
    name?: unknown;
    args?: { children: unknown[] };
  };
  if (depth > 20 || !n) return "...";
  switch (n.typename) {
    case "Symbol":
      return String(n.value);
    case "Literal":
      return typeof n.value === "string" ? strRepr(n.value) : String(pyStr(n.value));
    case "LookupVal": {
      const v = n.val as { typename: string; value?: unknown };
      const key = v.typename === "Literal" && typeof v.value === "string" && /^[A-Za-z_]\w*$/.test(v.value)
        ? `.${v.value}`
        : `[${nodeText(v, depth + 1)}]`;
      return nodeText(n.target, depth + 1) + key;
    }
    case "FunCall":
      return `${nodeText(n.name, depth + 1)}(...)`;
    case "Filter":
      return `${nodeText(n.args?.children[0], depth + 1)}|${nodeText(n.name, depth + 1)}`;
    default:
      return "expression";
  }
}

/** The nodes compiled as JavaScript statements, where the line a runtime error names is recorded. */
const STATEMENTS = new Set([
  "Output",
  "If",
  "JinjaFor",
  "Set",
  "With",
  "Include",
  "Import",
  "FromImport",
  "Switch",
]);

/** Patches the compiler's expressions and `set` with Jinja2's semantics, and error lines. */
export function installExpressions(nj: typeof nunjucks): void {
  const runtime = (nj as unknown as { runtime: Runtime }).runtime;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: CompilerProto } } }).compiler
    .Compiler;
  const proto = Compiler.prototype;
  // a runtime error names the line of the statement (or `{{ }}`) it happened in: nunjucks only
  // tracked calls, so most errors had no line at all
  const compileNode = proto.compile;
  proto.compile = function (node, frame) {
    const n = node as {
      typename: string;
      lineno: number;
      colno: number;
      children?: Array<{ typename: string }>;
    };
    if (
      STATEMENTS.has(n.typename) &&
      (n.typename !== "Output" || n.children?.some((c) => c.typename !== "TemplateData"))
    ) this._emitLine(`lineno = ${n.lineno}; colno = ${n.colno};`);
    compileNode.call(this, node, frame);
  };
  // node lines are counted from 0 (nunjucks' own calls reported the line before the right one)
  const handleError = runtime.handleError;
  runtime.handleError = (e, lineno, colno) =>
    (e as { lineno?: number }).lineno ? e : handleError(e, lineno + 1, colno + 1);
  // an error is placed where it happened, once: the line and the template of the innermost function of
  // compiled code it passes through (a macro's body, statements_macro.ts; the rest of a template after an
  // `include` or `import`, below; a block; a template's root); the templates it then passes through only
  // add their names. nunjucks placed it in whichever template's root caught it: a block of the parent
  // template was reported in the child, and the rest of a template after an include or import in the
  // included or imported one (which calls it back from inside its own try), at the line that one was at.
  runtime.jinjaWhere = (e, lineno, colno, path) => {
    const placed = e as { jinjaPlaced?: boolean };
    if (placed?.jinjaPlaced) return e;
    const err = runtime.handleError(e, lineno, colno) as { jinjaPlaced?: boolean; Update?(p: string): void };
    if (typeof err.Update === "function" && path) err.Update(path);
    err.jinjaPlaced = true;
    return err;
  };
  const where = (self: CompilerProto) =>
    `runtime.jinjaWhere(e, lineno, colno, ${
      jsString((self as { templateName?: string }).templateName ?? "")
    })`;
  const funcs = proto as unknown as {
    _emitFuncEnd(noReturn?: boolean): void;
    _addScopeLevel(): void;
    _closeScopeLevels(): void;
    _scopeClosers: string;
    buffer: string | null;
  };
  funcs._emitFuncEnd = function (this: CompilerProto & typeof funcs, noReturn?: boolean) {
    if (!noReturn) this._emitLine(`cb(null, ${this.buffer});`);
    this._closeScopeLevels();
    this._emitLine("} catch (e) {");
    this._emitLine(`  cb(${where(this)});`);
    this._emitLine("}");
    this._emitLine("}");
    this.buffer = null;
  };
  // nunjucks opens a scope level in the callback that runs the rest of a template (after include, import,
  // from-import, extends): that rest is in a try of its own
  funcs._addScopeLevel = function (this: CompilerProto & typeof funcs) {
    this._emitLine("try {");
    this._scopeClosers = `} catch (e) { throw ${where(this)}; }})` + this._scopeClosers;
  };
  // `{% include %}`: nunjucks' own, but the included template does not see the includer's `loop` (Jinja2
  // passes the names, not the loop: `loop.index` in an include is undefined there)
  const inc = proto as unknown as {
    compileInclude(node: unknown, frame: unknown): void;
    _compileGetTemplate(node: unknown, frame: unknown, eager: boolean, ignoreMissing: boolean): string;
    _makeCallback(res?: string): string;
  };
  inc.compileInclude = function (this: CompilerProto & typeof inc & typeof funcs, node, frame) {
    this._emitLine("var tasks = [];");
    this._emitLine("tasks.push(");
    this._emitLine("function(callback) {");
    const id = this._compileGetTemplate(
      node,
      frame,
      false,
      (node as { ignoreMissing: boolean }).ignoreMissing,
    );
    this._emitLine(`callback(null,${id});});`);
    this._emitLine("});");
    const id2 = this._tmpid();
    this._emitLine("tasks.push(");
    this._emitLine("function(template, callback){");
    this._emitLine(
      `template.render(context.getVariables(), runtime.jinjaIncludeFrame(frame), ${this._makeCallback(id2)}`,
    );
    this._emitLine(`callback(null,${id2});});`);
    this._emitLine("});");
    this._emitLine("tasks.push(");
    this._emitLine("function(result, callback){");
    this._emitLine(`${this.buffer} += result;`);
    this._emitLine("callback(null);");
    this._emitLine("});");
    this._emitLine("env.waterfall(tasks, function(){");
    this._addScopeLevel();
  };
  runtime.jinjaIncludeFrame = (frame) => {
    const f = frame.push();
    const lookup = f.lookup;
    f.lookup = function (this: typeof f, name: string) {
      return name === "loop" ? undefined : lookup.call(this, name);
    };
    return f;
  };
  proto.compileIf = function (node, frame, async) {
    this._emit("if(runtime.jinjaTruthy(");
    this._compileExpression(node.cond, frame);
    this._emitLine(")) {");
    this._withScopedSyntax(() => {
      this.compile(node.body, frame);
      if (async) this._emit("cb()");
    });
    if (node.else_) {
      this._emitLine("}\nelse {");
      this._withScopedSyntax(() => {
        this.compile(node.else_, frame);
        if (async) this._emit("cb()");
      });
    } else if (async) {
      this._emitLine("}\nelse {");
      this._emit("cb()");
    }
    this._emitLine("}");
  };
  proto.compileInlineIf = function (node, frame) {
    this._emit("(runtime.jinjaTruthy(");
    this.compile(node.cond, frame);
    this._emit(")?");
    this.compile(node.body, frame);
    this._emit(":");
    // without an else, Jinja2's Undefined: prints nothing, is not defined, takes a default
    if (node.else_ !== null) this.compile(node.else_, frame);
    else this._emit("undefined");
    this._emit(")");
  };
  proto.compileNot = function (node, frame) {
    this._emit("!runtime.jinjaTruthy(");
    this.compile(node.target, frame);
    this._emit(")");
  };
  // `a or b` / `a and b`: the operand Python returns, the right one evaluated only when needed
  const shortCircuit = (test: string) =>
    function (this: CompilerProto, node: BinNode, frame: unknown) {
      this._emit(`((__jl) => ${test}runtime.jinjaTruthy(__jl) ? __jl : (`);
      this.compile(node.right, frame);
      this._emit("))(");
      this.compile(node.left, frame);
      this._emit(")");
    };
  proto.compileOr = shortCircuit("");
  proto.compileAnd = shortCircuit("!");
  // an operand that may be undefined (a name, an attribute, a call's or a filter's result) is checked:
  // Jinja2's Undefined raises in arithmetic (JavaScript gave NaN, printed `nan`)
  const operand = (self: CompilerProto, node: unknown, frame: unknown) => {
    const typename = (node as { typename: string }).typename;
    if (typename === "Literal" || typename === "Array" || typename === "Dict" || typename === "Group") {
      self.compile(node, frame);
      return;
    }
    self._emit("runtime.jinjaDefined(");
    self.compile(node, frame);
    self._emit(`, ${JSON.stringify(nodeText(node))})`);
  };
  const binary = (fnName: string, checked = true, op?: string) =>
    function (this: CompilerProto, node: BinNode, frame: unknown) {
      this._emit(`runtime.${fnName}(${op ? JSON.stringify(op) + ", " : ""}`);
      if (checked) operand(this, node.left, frame);
      else this.compile(node.left, frame);
      this._emit(", ");
      if (checked) operand(this, node.right, frame);
      else this.compile(node.right, frame);
      this._emit(")");
    };
  // `a % b`, `a * b`: Python's (string formatting and repetition, the modulo's sign)
  // the right side of `'%s' % u` may be undefined (str() of it is ""); of `5 % u` not (checked at run time)
  proto.compileMod = function (this: CompilerProto, node: BinNode, frame: unknown) {
    this._emit("runtime.jinjaMod(");
    operand(this, node.left, frame);
    this._emit(", ");
    this.compile(node.right, frame);
    this._emit(`, ${JSON.stringify(nodeText(node.right))})`);
  };
  proto.compileMul = binary("jinjaMul");
  // `-`, `/`, `//`, `**`: numbers only (`none - 1` was -1), a division by zero raises (it printed `inf`)
  proto.compileSub = binary("jinjaArith", true, "-");
  proto.compileDiv = binary("jinjaArith", true, "/");
  proto.compileFloorDiv = binary("jinjaArith", true, "//");
  proto.compilePow = binary("jinjaArith", true, "**");
  const unary = (op: string) =>
    function (this: CompilerProto, node: { target: unknown }, frame: unknown) {
      this._emit(`runtime.jinjaUnary(${JSON.stringify(op)}, `);
      operand(this, node.target, frame);
      this._emit(")");
    };
  proto.compileNeg = unary("-");
  proto.compilePos = unary("+");
  // `x.y`, `x[0]` of an undefined x raises, as Jinja2's Undefined does (it printed nothing)
  proto.compileLookupVal = function (node, frame) {
    // nunjucks parses `f(*[3])` as an index of nothing
    const at = node as unknown as { lineno: number; colno: number };
    if (!node.target) {
      (this as unknown as Fail).fail("unexpected token in an expression", at.lineno, at.colno);
    }
    // `x[k]` is Jinja2's getitem (the item first), `x.y` its getattr (the attribute first)
    this._emit((node as ItemLookup).jinjaItem ? "runtime.jinjaGetitem((" : "runtime.memberLookup((");
    operand(this, node.target, frame);
    this._emit("),");
    this._compileExpression(node.val, frame);
    this._emit(")");
  };
  // `(a, b)` is a tuple (JavaScript read it as the comma operator: the last item)
  proto.compileGroup = function (node, frame) {
    if (node.children.length > 1) {
      this._emit("runtime.jinjaTuple(");
      this._compileAggregate(node, frame, "[", "]");
      this._emit(")");
    } else this._compileAggregate(node, frame, "(", ")");
  };
  // `a ~ b`: Python's str() of each side (`'n=' ~ None` is "n=None", an undefined side is "")
  proto.compileConcat = binary("jinjaConcat", false);
  // `==` without JavaScript's coercion, `a < b < c` as a chain whose operands after the first are
  // evaluated only while it holds (`0 > 1 < x|first` is False, as Python stops at the first false link)
  proto.compileCompare = function (node, frame) {
    this._emit("runtime.jinjaCompare(");
    this.compile(node.expr, frame);
    this._emit(`, ${JSON.stringify(nodeText(node.expr))}`);
    for (const op of node.ops) {
      this._emit(`, [${JSON.stringify(op.type)}, () => (`);
      this.compile(op.expr, frame);
      this._emit(`), ${JSON.stringify(nodeText(op.expr))}]`);
    }
    this._emit(")");
  };
  proto.compileAdd = binary("jinjaAdd");
  proto.compileIn = binary("jinjaIn", false);
  // `{% set ns.x = v %}` sets a namespace's attribute; `{% set a, b = pair %}` unpacks (nunjucks gave
  // both names the whole value)
  proto.compileSet = function (node, frame) {
    const t = node.targets;
    if (t.length === 1 && t[0].typename === "LookupVal") {
      this._emit("runtime.jinjaNsSet(");
      this._compileExpression(t[0].target, frame);
      this._emit(", ");
      this._compileExpression(t[0].val, frame);
      this._emit(", ");
      if (node.value) this._compileExpression(node.value, frame);
      else this.compile(node.body, frame);
      this._emitLine(");");
      return;
    }
    if (t.some((x) => x.typename !== "Symbol" && x.typename !== "Array")) {
      throw new Error("set: can only assign to names or a namespace attribute");
    }
    // names are bound in the innermost scope (statements.ts)
    (this as unknown as { compileJinjaSetNames(n: SetNode, f: unknown): void }).compileJinjaSetNames(
      node,
      frame,
    );
  };
}
