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
 */
import type nunjucks from "nunjucks";
import { jinjaDefined, pyTruthy, pyType, tuple, unpack } from "./jinja.ts";
import { PyFloat } from "./pyfloat.ts";
import type { Node as AnyNode, Token } from "./nodes.ts";

type Node = AnyNode<string>;

type NodeCtor = (new (lineno: number, colno: number, ...fields: unknown[]) => Node) & {
  extend(name: string, props: object): NodeCtor;
};
interface Tokenizer {
  str: string;
  index: number;
  in_code: boolean;
  trimBlocks: boolean;
  lstripBlocks: boolean;
  tags: { BLOCK_START: string; BLOCK_END: string };
  forward(): void;
}
interface Parser {
  tokens: Tokenizer;
  peeked: Token | null;
  dropLeadingWhitespace: boolean;
  breakOnBlocks: string[] | null;
  peekToken(): Token;
  nextToken(withWhitespace?: boolean): Token;
  skip(type: string): boolean;
  skipSymbol(name: string): boolean;
  skipValue(type: string, value: string): boolean;
  fail(msg: string, lineno?: number, colno?: number): never;
  parsePrimary(): Node;
  parseOr(): Node;
  parseExpression(): Node;
  parseUntilBlocks(...names: string[]): Node;
  advanceAfterBlockEnd(name?: string): Token;
  parseStatement(): Node | null;
  parseFor(): Node;
  parseRaw(tagName?: string): Node;
}
/** nunjucks' compile-time frame: a name's JavaScript expression, per scope. */
interface Frame {
  variables: Record<string, string>;
  parent: Frame | null;
  set(name: string, value: string): void;
  lookup(name: string): string | undefined;
  push(isolateWrites?: boolean): Frame;
}
interface Compiler {
  buffer: string;
  compile(node: unknown, frame: Frame): void;
  _emit(code: string): void;
  _emitLine(code: string): void;
  _compileExpression(node: unknown, frame: Frame): void;
  _withScopedSyntax(fn: () => void): void;
  _tmpid(): string;
  _pushBuffer(): string;
  _popBuffer(): void;
  fail(msg: string, lineno?: number, colno?: number): never;
}
interface ForNode extends Node {
  name: Node;
  arr: Node;
  body: Node;
  else_: Node | null;
  test: Node | null;
  recursive: boolean;
}
interface WithNode extends Node {
  targets: Node;
  values: Node;
  body: Node;
}
interface SetNode {
  targets: Node[];
  value: Node | null;
  body: Node | null;
}

/** The expression that reads `name` from the runtime frames (every binding is set there too). */
const lookupOf = (name: string) => `runtime.contextOrFrameLookup(context, frame, ${JSON.stringify(name)})`;

/** A loop's iterable as Python iterates it: a list's items, a string's characters, a dict's keys. */
function iterItems(v: unknown): unknown[] {
  if (v === undefined) return []; // Jinja2's Undefined iterates as empty
  if (Array.isArray(v)) return [...v];
  if (typeof v === "string" || v instanceof String) return [...String(v)];
  if (v instanceof Map) return [...v.keys()];
  if (v !== null && typeof v === "object" && !(v instanceof PyFloat)) {
    if (Symbol.iterator in v) return [...(v as Iterable<unknown>)];
    return Object.keys(v);
  }
  throw new Error(`TypeError: '${pyType(v)}' object is not iterable`);
}

/** The per-run state of a loop: its items (after the loop filter) and what `loop` tells about them. */
class LoopRun {
  items: unknown[];
  #last: string | undefined = undefined;
  constructor(
    items: unknown,
    readonly depth0: number,
    readonly recurse: ((items: unknown, depth0: number) => string) | null,
  ) {
    this.items = iterItems(items);
  }

  /** The `loop` variable of iteration `i`; a function that renders the loop again when it is recursive. */
  at(i: number): Record<string, unknown> {
    const items = this.items, n = items.length;
    const recurse = this.recurse, depth0 = this.depth0;
    const vars: Record<string, unknown> = {
      index: i + 1,
      index0: i,
      revindex: n - i,
      revindex0: n - i - 1,
      first: i === 0,
      last: i === n - 1,
      length: n,
      depth: depth0 + 1,
      depth0,
      previtem: i > 0 ? items[i - 1] : undefined,
      nextitem: i + 1 < n ? items[i + 1] : undefined,
      cycle: (...args: unknown[]) => {
        if (!args.length) throw new Error("TypeError: no items for cycling given");
        return args[i % args.length];
      },
      // true on the first call and whenever the values differ from the previous call's
      changed: (...values: unknown[]) => {
        const key = JSON.stringify(values);
        const changed = this.#last !== key;
        this.#last = key;
        return changed;
      },
    };
    if (!recurse) return vars;
    const call = (sub: unknown) => recurse(sub, depth0 + 1);
    for (const [k, v] of Object.entries(vars)) Object.defineProperty(call, k, { value: v, enumerable: true });
    return call as unknown as Record<string, unknown>;
  }
}

/** Binds a loop target (a name, or names a tuple unpacks into) in the runtime frame and the compile-time one. */
function bindTarget(c: Compiler, target: Node, item: string, frame: Frame): void {
  if (target.typename === "Symbol") {
    c._emitLine(`frame.set(${JSON.stringify(target.value)}, ${item});`);
    frame.set(target.value!, lookupOf(target.value!));
    return;
  }
  const names = (target.children ?? []).map((t) => {
    if (t.typename !== "Symbol") c.fail("for: can only assign to names", t.lineno, t.colno);
    return t.value!;
  });
  const parts = c._tmpid();
  c._emitLine(`var ${parts} = runtime.jinjaUnpack(${item}, ${names.length});`);
  names.forEach((name, i) => {
    c._emitLine(`frame.set(${JSON.stringify(name)}, ${parts}[${i}]);`);
    frame.set(name, lookupOf(name));
  });
}

function compileFor(this: Compiler, node: ForNode, frame: Frame): void {
  const arr = this._tmpid(), run = this._tmpid(), fn = this._tmpid(), i = this._tmpid();
  const items = this._tmpid(), depth = this._tmpid();
  this._emit(`var ${arr} = `);
  this._compileExpression(node.arr, frame);
  this._emitLine(";");
  // the loop is a function of its items, so that a recursive loop can call it again
  this._emitLine(`var ${fn} = function (${items}, ${depth}) {`);
  this._emitLine(
    `var ${run} = new runtime.JinjaLoopRun(${items}, ${depth}, ${node.recursive ? fn : "null"});`,
  );
  if (node.test) {
    const item = this._tmpid(), ok = this._tmpid();
    const scope = frame.push(true);
    this._emitLine(`${run}.items = ${run}.items.filter(function (${item}) {`);
    this._emitLine("frame = frame.push(true);");
    bindTarget(this, node.name, item, scope);
    this._emit(`var ${ok} = runtime.jinjaTruthy(`);
    this._compileExpression(node.test, scope);
    this._emitLine(");");
    this._emitLine(`frame = frame.pop();\nreturn ${ok};\n});`);
  }
  const buffer = this._pushBuffer();
  this._emitLine("");
  this._emitLine(`for (var ${i} = 0; ${i} < ${run}.items.length; ${i}++) {`);
  this._emitLine("frame = frame.push(true);");
  const scope = frame.push(true);
  bindTarget(this, node.name, `${run}.items[${i}]`, scope);
  this._emitLine(`frame.set("loop", ${run}.at(${i}));`);
  scope.set("loop", lookupOf("loop"));
  this._withScopedSyntax(() => this.compile(node.body, scope));
  this._emitLine("frame = frame.pop();");
  this._emitLine("}");
  if (node.else_) {
    const elseScope = frame.push(true);
    this._emitLine(`if (!${run}.items.length) {`);
    this._emitLine("frame = frame.push(true);");
    this._withScopedSyntax(() => this.compile(node.else_, elseScope));
    this._emitLine("frame = frame.pop();");
    this._emitLine("}");
  }
  this._emitLine(`return ${buffer};`);
  this._popBuffer();
  this._emitLine("};");
  this._emitLine(`${this.buffer} += ${fn}(${arr}, 0);`);
}

function compileWith(this: Compiler, node: WithNode, frame: Frame): void {
  // every value is computed in the enclosing scope before any name is bound (`with a = a + 1, b = a`)
  const ids = (node.values.children ?? []).map((v) => {
    const id = this._tmpid();
    this._emit(`var ${id} = `);
    this._compileExpression(v, frame);
    this._emitLine(";");
    return id;
  });
  const scope = frame.push(true);
  this._emitLine("frame = frame.push(true);");
  (node.targets.children ?? []).forEach((t, i) => bindTarget(this, t, ids[i], scope));
  this._withScopedSyntax(() => this.compile(node.body, scope));
  this._emitLine("frame = frame.pop();");
}

/**
 * `{% set a = v %}` / `{% set a, b = pair %}` / `{% set a %}...{% endset %}`: binds in the innermost
 * scope's runtime frame (isolated: a loop's iteration, `with`, a macro), at the top level also in
 * the context (exported to an importer unless it starts with `_`).
 */
function compileSetNames(this: Compiler, node: SetNode, frame: Frame): void {
  const names = node.targets.map((t) => t.value!);
  const value = this._tmpid();
  this._emit(`var ${value} = `);
  if (node.value) this._compileExpression(node.value, frame);
  else this.compile(node.body, frame);
  this._emitLine(";");
  const values = names.length > 1 ? this._tmpid() : value;
  if (names.length > 1) this._emitLine(`var ${values} = runtime.jinjaUnpack(${value}, ${names.length});`);
  names.forEach((name, i) => {
    const v = names.length > 1 ? `${values}[${i}]` : value;
    const n = JSON.stringify(name);
    this._emitLine(`frame.set(${n}, ${v}, true);`);
    this._emitLine(`if (frame.topLevel) { context.setVariable(${n}, ${v}); }`);
    if (!name.startsWith("_")) this._emitLine(`if (frame.topLevel) { context.addExport(${n}, ${v}); }`);
    // later reads in this scope read the frames (a loop variable or macro argument of the same name
    // compiled to its own JavaScript variable)
    frame.set(name, lookupOf(name));
  });
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * `{% raw %}...{% endraw %}` read from the source as Jinja2's lexer does: nothing after the opening
 * tag is trimmed but for `-%}`; before `{% endraw %}` a `-` strips the whitespace and lstrip_blocks
 * the indentation of its line; after it trim_blocks drops one newline. nunjucks trimmed after the
 * opening tag, kept what came before and after the closing one, and refused `{%- endraw -%}`.
 */
function parseRaw(this: Parser, nodes: Record<string, NodeCtor>, tagName = "raw"): Node {
  const begin = this.nextToken(); // the tag's name
  const t = this.tokens;
  const start = escapeRe(t.tags.BLOCK_START), end = escapeRe(t.tags.BLOCK_END);
  const open = new RegExp(`\\s*(?:-${end}\\s*|${end})`, "y");
  open.lastIndex = t.index;
  const o = open.exec(t.str);
  if (!o) this.fail(`expected the end of the ${tagName} tag`, begin.lineno, begin.colno);
  const close = new RegExp(
    `([\\s\\S]*?)${start}([-+]?)\\s*end${tagName}\\s*(\\+${end}|-${end}\\s*|${end}${
      t.trimBlocks ? "(?:\\r\\n|\\n|\\r)?" : ""
    })`,
    "y",
  );
  close.lastIndex = t.index + o![0].length;
  const m = close.exec(t.str);
  if (!m) this.fail(`missing end of ${tagName} block (end${tagName})`, begin.lineno, begin.colno);
  let text = m![1];
  if (m![2] === "-") text = text.trimEnd();
  else if (m![2] !== "+" && t.lstripBlocks) {
    const nl = text.lastIndexOf("\n") + 1;
    if (nl > 0 && /^[ \t\f\v]+$/.test(text.slice(nl))) text = text.slice(0, nl);
  }
  const to = close.lastIndex;
  while (t.index < to) t.forward();
  t.in_code = false;
  this.dropLeadingWhitespace = false;
  return new nodes.Output(begin.lineno, begin.colno, [
    new nodes.TemplateData(begin.lineno, begin.colno, text),
  ]);
}

/** What a macro call passed beyond its parameters, for the macro's `varargs` and `kwargs`. */
interface MacroExtras {
  varargs: unknown[];
  kwargs: Record<string, unknown>;
}
let macroExtras: MacroExtras | null = null;

type MakeMacro = (
  argNames: string[],
  kwargNames: string[],
  func: (...a: unknown[]) => unknown,
) => (...a: unknown[]) => unknown;

/**
 * nunjucks' makeMacro plus Jinja2's `varargs` (a tuple of the extra positional arguments) and
 * `kwargs` (a dict of the extra keyword ones), which nunjucks dropped. A macro whose body uses
 * neither refuses extra arguments, as Jinja2's does (nunjucks ignored them). Each call records the
 * extras just before the macro's body takes them (rendering is synchronous).
 */
function jinjaMacro(makeMacro: MakeMacro) {
  return (
    name: string,
    argNames: string[],
    kwargNames: string[],
    catches: { varargs: boolean; kwargs: boolean },
    func: (...a: unknown[]) => unknown,
  ) => {
    const macro = makeMacro(argNames, kwargNames, func);
    const declared = argNames.length + kwargNames.length;
    return function (this: unknown, ...args: unknown[]) {
      const last = args[args.length - 1] as Record<string, unknown> | undefined;
      const keywords = last !== null && typeof last === "object" && Object.hasOwn(last, "__keywords");
      const positional = keywords ? args.length - 1 : args.length;
      const named: Record<string, unknown> = {};
      if (keywords) {
        for (const [k, v] of Object.entries(last!)) {
          if (k !== "__keywords" && k !== "caller" && !argNames.includes(k) && !kwargNames.includes(k)) {
            named[k] = v;
          }
        }
      }
      const extra = Object.keys(named);
      if (extra.length && !catches.kwargs) {
        throw new Error(`TypeError: macro '${name}' takes no keyword argument '${extra[0]}'`);
      }
      if (positional > declared && !catches.varargs) {
        throw new Error(`TypeError: macro '${name}' takes not more than ${declared} argument(s)`);
      }
      macroExtras = { varargs: tuple(args.slice(declared, positional)), kwargs: named };
      return macro.apply(this, args);
    };
  };
}

/** Whether a macro's body reads `name` (a Symbol anywhere in it, nested macros and call blocks included). */
function reads(node: unknown, name: string, depth = 0): boolean {
  if (!node || typeof node !== "object" || depth > 200) return false;
  const n = node as Node & { fields?: string[] } & Record<string, unknown>;
  if (n.typename === "Symbol") return n.value === name;
  if (Array.isArray(n.children) && n.children.some((c) => reads(c, name, depth + 1))) return true;
  return (n.fields ?? []).some((f) => f !== "children" && reads(n[f], name, depth + 1));
}

interface MacroNode extends Node {
  name: Node;
  args: Node;
  body: Node;
}

/**
 * A macro (or a call block's `caller`) as a function of its arguments whose body reads names in the
 * scope it is written in (Jinja2's closures; nunjucks gave a macro an empty scope, and a call
 * block's body the scope of the macro calling it), with `varargs` and `kwargs`.
 */
function compileMacro(
  this: Compiler,
  node: MacroNode,
  frame: Frame | null,
  FrameClass: new () => Frame,
): string {
  const children = node.args.children ?? [];
  const last = children[children.length - 1];
  const kwargs = last?.typename === "KeywordArgs" || last?.typename === "Dict" ? last : null;
  const args = kwargs ? children.slice(0, -1) : children;
  for (const a of args) {
    if (a.typename !== "Symbol") this.fail("macro: an argument must be a name", a.lineno, a.colno);
  }
  const pairs = (kwargs?.children ?? []) as Array<Node & { key: Node; value: Node }>;
  const id = "macro_" + this._tmpid();
  const lexical = this._tmpid();
  const scope = frame ? frame.push(true) : new FrameClass();
  this._emitLine(`var ${lexical} = frame;`);
  const name = node.typename === "Caller" ? "caller" : node.name.value!;
  const catches = { varargs: reads(node.body, "varargs"), kwargs: reads(node.body, "kwargs") };
  this._emitLine(
    `var ${id} = runtime.jinjaMacro(${JSON.stringify(name)}, ` +
      `[${args.map((a) => JSON.stringify(a.value)).join(", ")}], ` +
      `[${pairs.map((p) => JSON.stringify(p.key.value)).join(", ")}], ${JSON.stringify(catches)}, ` +
      `function (${[...args.map((a) => "l_" + a.value), "kwargs"].join(", ")}) {`,
  );
  this._emitLine("var callerFrame = frame;");
  this._emitLine(`frame = ${lexical}.push(true);`);
  this._emitLine("kwargs = kwargs || {};");
  this._emitLine(
    'if (Object.prototype.hasOwnProperty.call(kwargs, "caller")) { frame.set("caller", kwargs.caller); }',
  );
  this._emitLine("var extras = runtime.jinjaMacroExtras();");
  this._emitLine('frame.set("varargs", extras.varargs);\nframe.set("kwargs", extras.kwargs);');
  for (const a of args) {
    this._emitLine(`frame.set(${JSON.stringify(a.value)}, l_${a.value});`);
    scope.set(a.value!, "l_" + a.value);
  }
  // a default is computed when the call does not give the argument, in the macro's scope (b=a)
  for (const p of pairs) {
    const name = JSON.stringify(p.key.value);
    this._emit(
      `frame.set(${name}, Object.prototype.hasOwnProperty.call(kwargs, ${name}) ? kwargs[${name}] : `,
    );
    this._compileExpression(p.value, scope);
    this._emitLine(");");
    scope.set(p.key.value!, lookupOf(p.key.value!));
  }
  const buffer = this._pushBuffer();
  this._emitLine("");
  this._withScopedSyntax(() => this.compile(node.body, scope));
  this._emitLine("frame = callerFrame;");
  this._emitLine(`return new runtime.SafeString(${buffer});`);
  this._emitLine("});");
  this._popBuffer();
  return id;
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

/** Installs the statements into nunjucks' parser, node types and compiler (once, from installJinjaSemantics). */
export function installStatements(nj: typeof nunjucks): void {
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: Parser } } }).parser;
  const lexer = (nj as unknown as { lexer: Record<string, string> }).lexer;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: Record<string, unknown> } } })
    .compiler.Compiler;
  const runtime = (nj as unknown as { runtime: Record<string, unknown> }).runtime;
  runtime.JinjaLoopRun = LoopRun;
  runtime.jinjaDefined ??= jinjaDefined;
  runtime.jinjaUnpack ??= unpack;
  runtime.jinjaTruthy ??= pyTruthy;

  const JinjaFor = nodes.For.extend("JinjaFor", {
    fields: ["arr", "name", "body", "else_", "test", "recursive"],
  });
  const With = nodes.Node.extend("With", { fields: ["targets", "values", "body"] });
  // the transformer rebuilds a node by its type's name
  nodes.JinjaFor = JinjaFor;
  nodes.With = With;

  const proto = Parser.prototype;
  const parseFor = proto.parseFor;
  proto.parseFor = function (this: Parser) {
    const tok = this.peekToken();
    if (tok.value !== "for") return parseFor.call(this);
    this.skipSymbol("for");
    const node = new JinjaFor(tok.lineno, tok.colno) as ForNode;
    node.name = this.parsePrimary();
    if (node.name.typename !== "Symbol") {
      this.fail("for: a name expected for the loop", tok.lineno, tok.colno);
    }
    if (this.peekToken().type === lexer.TOKEN_COMMA) {
      const first = node.name;
      const names = [first];
      while (this.skip(lexer.TOKEN_COMMA)) names.push(this.parsePrimary());
      node.name = new nodes.Array(first.lineno, first.colno, names);
    }
    if (!this.skipSymbol("in")) this.fail('for: expected "in"', tok.lineno, tok.colno);
    // no inline `if` in the iterable: an `if` after it filters the loop
    node.arr = this.parseOr();
    node.test = this.skipSymbol("if") ? this.parseExpression() : null;
    node.recursive = this.skipSymbol("recursive");
    this.advanceAfterBlockEnd("for");
    node.body = this.parseUntilBlocks("endfor", "else");
    node.else_ = null;
    if (this.skipSymbol("else")) {
      this.advanceAfterBlockEnd("else");
      node.else_ = this.parseUntilBlocks("endfor");
    }
    this.advanceAfterBlockEnd();
    return node;
  };
  const parseStatement = proto.parseStatement;
  proto.parseStatement = function (this: Parser) {
    const tok = this.peekToken();
    if (tok.type !== lexer.TOKEN_SYMBOL || tok.value !== "with" || this.breakOnBlocks?.includes("with")) {
      return parseStatement.call(this);
    }
    this.skipSymbol("with");
    const targets: Node[] = [], values: Node[] = [];
    while (this.peekToken()?.type !== lexer.TOKEN_BLOCK_END) {
      if (targets.length && !this.skip(lexer.TOKEN_COMMA)) this.fail("with: expected a comma", tok.lineno);
      const target = this.parsePrimary();
      if (target.typename !== "Symbol") {
        this.fail("with: can only assign to names", target.lineno, target.colno);
      }
      if (!this.skipValue(lexer.TOKEN_OPERATOR, "=")) {
        this.fail("with: expected =", target.lineno, target.colno);
      }
      targets.push(target);
      values.push(this.parseExpression());
    }
    this.advanceAfterBlockEnd("with");
    const body = this.parseUntilBlocks("endwith");
    this.advanceAfterBlockEnd();
    return new With(
      tok.lineno,
      tok.colno,
      new nodes.NodeList(tok.lineno, tok.colno, targets),
      new nodes.NodeList(tok.lineno, tok.colno, values),
      body,
    );
  };
  proto.parseRaw = function (this: Parser, tagName?: string) {
    return parseRaw.call(this, nodes, tagName);
  };

  runtime.jinjaMacro = jinjaMacro(runtime.makeMacro as MakeMacro);
  runtime.jinjaMacroExtras = (): MacroExtras => {
    const extras = macroExtras ?? { varargs: tuple([]), kwargs: {} };
    macroExtras = null;
    return extras;
  };
  const Frame = runtime.Frame as new () => Frame;
  Compiler.prototype._compileMacro = function (this: Compiler, node: MacroNode, frame?: Frame) {
    return compileMacro.call(this, node, frame ?? null, Frame);
  };
  // nunjucks compiled a macro defined in a loop, a `with` or another macro without its scope
  // (`{% for n in nodes %}{% macro m() %}{{ n }}...` printed nothing)
  Compiler.prototype.compileMacro = function (this: Compiler, node: MacroNode, frame: Frame) {
    const id = compileMacro.call(this, node, frame, Frame);
    const name = node.name.value!;
    frame.set(name, id);
    if (frame.parent) this._emitLine(`frame.set(${JSON.stringify(name)}, ${id});`);
    else {
      if (!name.startsWith("_")) this._emitLine(`context.addExport(${JSON.stringify(name)});`);
      this._emitLine(`context.setVariable(${JSON.stringify(name)}, ${id});`);
    }
  };
  Compiler.prototype.compileCapture = compileCapture;
  Compiler.prototype.compileJinjaFor = compileFor;
  Compiler.prototype.compileWith = compileWith;
  Compiler.prototype.compileJinjaSetNames = compileSetNames;
}
