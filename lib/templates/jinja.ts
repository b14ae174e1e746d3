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
 * - **Syntax**: number literals with an exponent (`1e3`, `2E-2`), `for (a, b) in ...` (see
 *   patchLexer), a test's argument without parentheses (`x is divisibleby 3`); calls in calls.ts.
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
 */
import type nunjucks from "nunjucks";
import { strRepr } from "../evaluator/mod.ts";
import { installStatements } from "./statements.ts";
import { installSafeCodegen } from "./codegen.ts";
import { installCalls, type ItemLookup } from "./calls.ts";
import { member } from "./attributes.ts";
import { PyFloat } from "./pyfloat.ts";
import {
  isPlain,
  jinjaDefined,
  JinjaNamespace,
  pyAdd,
  pyArith,
  pyCompare,
  pyIn,
  pyMod,
  pyMul,
  pyStr,
  pyTruthy,
  pyUnary,
  tuple,
  unpack,
} from "./pyvalues.ts";
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
import type { NodeCtor, Token } from "./nodes.ts";

interface CompilerProto {
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

type Runtime = {
  handleError(e: unknown, lineno: number, colno: number): unknown;
  suppressValue(val: unknown, autoescape: boolean): unknown;
  memberLookup(obj: unknown, val: unknown, ...rest: unknown[]): unknown;
  contextOrFrameLookup(
    context: { ctx: object; env: { globals: object } },
    frame: { lookup(name: string): unknown },
    name: string,
  ): unknown;
  SafeString: new (s: string) => unknown;
  jinjaTruthy?: (v: unknown) => boolean;
  jinjaConcat?: (a: unknown, b: unknown) => string;
  jinjaMod?: (a: unknown, b: unknown) => unknown;
  jinjaMul?: (a: unknown, b: unknown) => unknown;
  jinjaTuple?: (items: unknown[]) => unknown[];
  jinjaNsSet?: (obj: unknown, key: unknown, value: unknown) => void;
  jinjaCompare?: (first: unknown, what: string, ...ops: Array<[string, unknown, string]>) => boolean;
  jinjaAdd?: (a: unknown, b: unknown) => unknown;
  jinjaIn?: (a: unknown, b: unknown) => boolean;
  jinjaArith?: (op: string, a: unknown, b: unknown) => unknown;
  jinjaUnary?: (op: string, a: unknown) => unknown;
  jinjaFloat?: (n: number) => unknown;
  jinjaDefined?: (v: unknown, what: string) => unknown;
  jinjaUnpack?: (value: unknown, n: number) => unknown[];
  jinjaGetitem?: (obj: unknown, key: unknown, ...rest: unknown[]) => unknown;
};

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

let installed = false;

interface TokenizerState {
  str: string;
  index: number;
  lineno: number;
  colno: number;
  in_code: boolean;
  forward(): void;
  nextToken(): Token | null;
  /** The last token other than whitespace (`for (a, b) in` below). */
  jinjaLast?: string;
  /** Inside the parentheses of a `for (a, b) in` target. */
  jinjaForParen?: boolean;
  trimBlocks: boolean;
  lstripBlocks: boolean;
  tags: {
    COMMENT_START: string;
    COMMENT_END: string;
    BLOCK_START: string;
    BLOCK_END: string;
    VARIABLE_START: string;
  };
  isFinished(): boolean;
  current(): string;
  _parseString(delimiter: string): string;
}

interface ParserState {
  parseCompare(): { typename: string; lineno: number; colno: number };
  parsePrimary(noPostfix?: boolean): unknown;
  parsePostfix(node: unknown): unknown;
  peekToken(): Token | null;
  skipSymbol(name: string): boolean;
  parseIs(): unknown;
}

/** Words that end an expression rather than start a test's argument (`x is odd and y`). */
const NOT_AN_ARGUMENT = new Set(["and", "or", "else", "if", "in", "is", "not"]);

/**
 * Jinja2 lets one argument follow a test without parentheses (`x is divisibleby 3`, `v is sameas false`);
 * nunjucks read the argument as the end of the expression and failed. The argument becomes the call's.
 */
function patchTestArguments(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: ParserState } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  Parser.prototype.parseIs = function (this: ParserState) {
    let node: unknown = this.parseCompare();
    if (!this.skipSymbol("is")) return node;
    const not = this.skipSymbol("not");
    let test = this.parseCompare();
    const next = this.peekToken();
    const startsArgument = next !== null && (
      ["int", "float", "string", "boolean", "none", "left-bracket", "left-curly"].includes(next.type) ||
      (next.type === "symbol" && !NOT_AN_ARGUMENT.has(next.value))
    );
    if (test.typename === "Symbol" && startsArgument) {
      const arg = this.parsePrimary();
      const args = new nodes.NodeList(test.lineno, test.colno, [arg]);
      test = new nodes.FunCall(test.lineno, test.colno, test, args) as typeof test;
    }
    const head = node as { lineno: number; colno: number };
    node = new nodes.Is(head.lineno, head.colno, node, test);
    return not ? new nodes.Not(head.lineno, head.colno, node) : node;
  };
}

/**
 * Jinja2's trim_blocks and lstrip_blocks apply to comments too (generators use both): the newline
 * after a `{# ... #}` is dropped, and the spaces before one that starts a line. nunjucks kept both,
 * so a commented template wrote blank lines where Jinja2 wrote none.
 */
function commentTrim(t: TokenizerState, tok: Token): Token | null {
  if (tok.type === "comment" && t.trimBlocks && !tok.value.endsWith("+" + t.tags.COMMENT_END)) {
    if (t.str.startsWith("\r\n", t.index)) {
      t.forward();
      t.forward();
    } else if (t.str[t.index] === "\n") t.forward();
  } else if (
    tok.type === "data" && t.lstripBlocks && t.str.startsWith(t.tags.COMMENT_START, t.index) &&
    !t.str.startsWith(t.tags.COMMENT_START + "+", t.index)
  ) {
    const nl = tok.value.lastIndexOf("\n");
    const last = tok.value.slice(nl + 1);
    if ((nl >= 0 || tok.colno === 0) && /^[ \t]+$/.test(last)) {
      const value = tok.value.slice(0, tok.value.length - last.length);
      return value ? { ...tok, value } : t.nextToken();
    }
  }
  return tok;
}

/**
 * A float literal with an integral value (`2.0`, `1e3`) is a float, printed `2.0` (pyfloat.ts);
 * nunjucks made it the number 2.
 */
function patchFloatLiterals(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: ParserState } } }).parser;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: Record<string, unknown> } } })
    .compiler.Compiler;
  const parsePrimary = Parser.prototype.parsePrimary;
  Parser.prototype.parsePrimary = function (this: ParserState, noPostfix?: boolean) {
    const tok = this.peekToken();
    if (tok?.type !== "float" || !Number.isInteger(parseFloat(tok.value))) {
      return parsePrimary.call(this, noPostfix);
    }
    const node = parsePrimary.call(this, true) as { value: unknown };
    node.value = new PyFloat(node.value as number);
    return noPostfix ? node : this.parsePostfix(node);
  };
  const compileLiteral = Compiler.prototype.compileLiteral as (this: CompilerProto, ...a: unknown[]) => void;
  Compiler.prototype.compileLiteral = function (
    this: CompilerProto,
    node: { value: unknown },
    frame: unknown,
  ) {
    if (node.value instanceof PyFloat) this._emit(`runtime.jinjaFloat(${node.value.valueOf()})`);
    else compileLiteral.call(this, node, frame);
  };
}

/** Whether the text from `t.index` ends at a `{%+` or `{#+` tag (lstrip_blocks does not apply to it). */
function plusTagFollows(t: TokenizerState): boolean {
  const { BLOCK_START, VARIABLE_START, COMMENT_START } = t.tags;
  const starts = [BLOCK_START, VARIABLE_START, COMMENT_START];
  if (starts.some((s) => t.str.startsWith(s, t.index))) return false;
  let next = -1;
  for (const s of starts) {
    const i = t.str.indexOf(s, t.index);
    if (i >= 0 && (next < 0 || i < next)) next = i;
  }
  return next >= 0 &&
    (t.str.startsWith(BLOCK_START + "+", next) || t.str.startsWith(COMMENT_START + "+", next));
}

/**
 * Jinja2's `+` whitespace markers: `{%+` keeps the indentation lstrip_blocks would remove before the
 * tag, `+%}` the newline trim_blocks would remove after it (`{#+`, `+#}` for comments; `{{+` is
 * allowed and does nothing). nunjucks read the `+` as an operator: a syntax error.
 */
function plusMarkers(t: TokenizerState, next: () => Token | null): Token | null | undefined {
  const { BLOCK_START, BLOCK_END, VARIABLE_START } = t.tags;
  if (!t.in_code) {
    for (const start of [BLOCK_START, VARIABLE_START]) {
      if (!t.str.startsWith(start + "+", t.index)) continue;
      const tok = next();
      t.forward();
      return tok && { ...tok, value: start + "+" };
    }
    if (!t.lstripBlocks || !plusTagFollows(t)) return undefined;
    t.lstripBlocks = false;
    try {
      return next();
    } finally {
      t.lstripBlocks = true;
    }
  }
  if (!t.str.startsWith("+" + BLOCK_END, t.index)) return undefined;
  t.forward();
  const trim = t.trimBlocks;
  t.trimBlocks = false;
  try {
    const tok = next();
    return tok && { ...tok, value: "+" + tok.value };
  } finally {
    t.trimBlocks = trim;
  }
}

/** `1e3`, `2E-2`, `1.5e+3`: the text of a number literal with an exponent at the start of `s`. */
const EXPONENT_NUMBER = /^\d+(?:\.\d+)?[eE][+-]?\d+/;

/**
 * Two pieces of Jinja2's syntax nunjucks' lexer lacks: number literals with an exponent (it read
 * `1e3` as an undefined name, printing nothing, and `2E-2` as `2E` minus 2: `nan`), and a `for`
 * target in parentheses (`for (a, b) in pairs`, a parse error): the parentheses are dropped, which
 * is what they mean. And one it has that Jinja2 lacks: `r/.../` is no regular expression, `r / 2` is.
 */
function patchLexer(nj: typeof nunjucks): void {
  const lexer = (nj as unknown as { lexer: { lex(src: string, opts: object): TokenizerState } }).lexer;
  const proto = Object.getPrototypeOf(lexer.lex("", {})) as TokenizerState;
  const next = proto.nextToken;
  proto.nextToken = function (this: TokenizerState): Token | null {
    const start = this.index, lineno = this.lineno, colno = this.colno;
    const code = this.in_code;
    let tok = plusMarkers(this, () => next.call(this));
    if (tok === undefined && code && this.str.startsWith("r/", this.index)) {
      // the name `r` before a division (nunjucks read `r/2/` as a JavaScript regular expression)
      this.forward();
      tok = { type: "symbol", value: "r", lineno, colno };
    }
    if (tok === undefined) tok = next.call(this);
    if (!tok) return tok;
    if (!code) return commentTrim(this, tok);
    if (tok.type === "int" || tok.type === "float" || tok.type === "symbol") {
      const m = EXPONENT_NUMBER.exec(this.str.slice(start, start + 400));
      if (m && m[0].startsWith(String(tok.value))) {
        while (this.index < start + m[0].length) this.forward();
        tok = { type: "float", value: m[0], lineno, colno };
      }
    }
    if (tok.type === "left-paren" && this.jinjaLast === "for") {
      this.jinjaForParen = true;
      return this.nextToken();
    }
    if (tok.type === "right-paren" && this.jinjaForParen) {
      this.jinjaForParen = false;
      return this.nextToken();
    }
    // `item.0`, `pair.1`: an index after a dot, as Jinja2 reads it (nunjucks wanted a name)
    if (tok.type === "int" && this.jinjaLast === ".") tok = { ...tok, type: "symbol" };
    if (tok.type !== "whitespace") {
      this.jinjaLast = tok.type === "symbol" || tok.type === "operator" ? tok.value : tok.type;
    }
    return tok;
  };
  // string literals with Python's escapes (`'\x41'`, `'\u00e9'`, `'\d'` keeps its backslash);
  // nunjucks knew \n, \t and \r and dropped the backslash of any other
  proto._parseString = function (this: TokenizerState, delimiter: string): string {
    this.forward();
    let raw = "";
    while (!this.isFinished() && this.current() !== delimiter) {
      if (this.current() === "\\") {
        raw += "\\";
        this.forward();
        if (this.isFinished()) break;
      }
      raw += this.current();
      this.forward();
    }
    this.forward();
    return pyUnescape(raw);
  };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\n": "",
};

/** Python's escapes in a string literal (its `unicode-escape` codec, as Jinja2 decodes them). */
function pyUnescape(raw: string): string {
  return raw.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g,
    (whole, e: string) => {
      if (e.length > 1 || /[0-7]/.test(e)) {
        const code = /^[xuU]/.test(e) ? parseInt(e.slice(1), 16) : parseInt(e, 8);
        return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return Object.hasOwn(SIMPLE_ESCAPES, e) ? SIMPLE_ESCAPES[e] : whole;
    },
  );
}

/** Patches nunjucks (its compiler and runtime) with Jinja2's semantics; once per process. */
export function installJinjaSemantics(nj: typeof nunjucks): void {
  if (installed) return;
  installed = true;
  const runtime = (nj as unknown as { runtime: Runtime }).runtime;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: CompilerProto } } }).compiler
    .Compiler;
  runtime.jinjaTruthy = pyTruthy;
  runtime.jinjaConcat = (a, b) => String(pyStr(a) ?? "") + String(pyStr(b) ?? "");
  runtime.jinjaMod = pyMod;
  runtime.jinjaMul = pyMul;
  runtime.jinjaTuple = tuple;
  runtime.jinjaNsSet = (obj, key, value) => {
    if (!(obj instanceof JinjaNamespace)) throw new Error("cannot assign attribute on non-namespace object");
    (obj as unknown as Record<string, unknown>)[String(key)] = value;
  };
  runtime.jinjaUnpack = unpack;
  runtime.jinjaCompare = pyCompare;
  runtime.jinjaAdd = pyAdd;
  runtime.jinjaIn = pyIn;
  runtime.jinjaArith = pyArith;
  runtime.jinjaUnary = pyUnary;
  runtime.jinjaDefined = jinjaDefined;
  runtime.jinjaFloat = (n) => new PyFloat(n);

  const suppress = runtime.suppressValue;
  runtime.suppressValue = (val, autoescape) => suppress(pyStr(val), autoescape);

  const lookup = runtime.memberLookup;
  runtime.memberLookup = function (this: unknown, obj: unknown, val: unknown, ...rest: unknown[]) {
    // a float is no index (`l[4 / 2]`: Jinja2's getitem fails, an undefined value)
    if (val instanceof PyFloat && rest.length === 0) return undefined;
    if (rest.length >= 2 && (typeof obj === "string" || obj instanceof String)) {
      // `s[1:3]` is a string in Python (jinja-compat's slice gives a list of characters)
      return (lookup.call(this, obj, val, ...rest) as string[]).join("");
    }
    if (rest.length !== 0) return lookup.call(this, obj, val, ...rest); // a slice
    // Python's methods, then data only: never an inherited property (`constructor.constructor` was
    // JavaScript's Function), nor jinja-compat's list and dict methods (`append` gave the length)
    return member(obj, val);
  };
  runtime.jinjaGetitem = function (this: unknown, obj: unknown, key: unknown, ...rest: unknown[]) {
    // a dict's own key before its method (`d['items']`); a list's or a string's index has no method
    const dict = obj !== null && typeof obj === "object" && !Array.isArray(obj) && isPlain(obj);
    if (dict && rest.length === 0 && typeof key === "string" && Object.hasOwn(obj, key)) {
      return (obj as Record<string, unknown>)[key];
    }
    return runtime.memberLookup.call(this, obj, key, ...rest);
  };
  // a filter or test is one registered (`x|constructor`, `map('__defineGetter__')`, `x is toString`
  // reached Object.prototype's)
  const env =
    (nj as unknown as { Environment: { prototype: Record<string, unknown> } }).Environment.prototype;
  for (const [getter, table, kind] of [["getFilter", "filters", "filter"], ["getTest", "tests", "test"]]) {
    env[getter] = function (this: Record<string, Record<string, unknown>>, name: string) {
      if (!Object.hasOwn(this[table], name)) throw new Error(`${kind} not found: ${name}`);
      return this[table][name];
    };
  }
  // a name is the template's, its context's or a global: `constructor`, `toString`... are not Object's
  const lookupName = runtime.contextOrFrameLookup;
  runtime.contextOrFrameLookup = function (this: unknown, context, frame, name) {
    const inherited = name in Object.prototype && frame.lookup(name) === undefined &&
      !Object.hasOwn(context.ctx, name) && !Object.hasOwn(context.env.globals, name);
    return inherited ? undefined : lookupName.call(this, context, frame, name);
  };

  patchLexer(nj);
  patchTestArguments(nj);
  installCalls(nj);
  patchFloatLiterals(nj);
  installSafeCodegen(nj);
  installStatements(nj);

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
    if (node.else_ !== null) this.compile(node.else_, frame);
    else this._emit('""');
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
  proto.compileMod = binary("jinjaMod");
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
  // `==` without JavaScript's coercion, `a < b < c` as a chain
  proto.compileCompare = function (node, frame) {
    this._emit("runtime.jinjaCompare(");
    this.compile(node.expr, frame);
    this._emit(`, ${JSON.stringify(nodeText(node.expr))}`);
    for (const op of node.ops) {
      this._emit(`, [${JSON.stringify(op.type)}, `);
      this.compile(op.expr, frame);
      this._emit(`, ${JSON.stringify(nodeText(op.expr))}]`);
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
    if (t.some((x) => x.typename !== "Symbol")) {
      throw new Error("set: can only assign to names or a namespace attribute");
    }
    // names are bound in the innermost scope (statements.ts)
    (this as unknown as { compileJinjaSetNames(n: SetNode, f: unknown): void }).compileJinjaSetNames(
      node,
      frame,
    );
  };
}
