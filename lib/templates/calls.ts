/**
 * How a template calls things, parsed as Jinja2 parses it (installed by installJinjaSemantics):
 *
 * - **arguments**: positional ones first, then keywords, each keyword a name, and `*args` and
 *   `**kwargs` (`'{name}@{addr}'.format(**node)`, `range(*bounds)`; one of each, `**` last, as Jinja2
 *   parses them; compiled by spreading, checked by runtime.jinjaStarArgs/jinjaMergeKwargs). nunjucks took a
 *   positional argument after a keyword as if it came first (`replace('a', count=1, 'b')` replaced
 *   'a' by 'b' once) and any expression as a keyword (`f('n'=1)`); both are a syntax error in
 *   Jinja2, and here. A call may end with a comma (`range(3, )`, `dict(a=1,)`), a macro's or call
 *   block's parameter list may not, as in Jinja2 (nunjucks refused the first, took the second).
 * - **a filter's result called**: `x|attr('split')('-')` calls what the filter gives, as Jinja2
 *   does; nunjucks took both parenthesized lists for the filter's and gave it the last
 *   (`attr('-')`: an empty string, without a word).
 * - **`x.y` and `x[k]`**: an attribute is looked up as an attribute first, an item as an item
 *   first (Jinja2's getattr and getitem): `d['items']` is the dict's key, `d.items` its method
 *   (nunjucks compiled both alike). `l.0.1` is `l[0][1]` (nunjucks read `0.1` as a float).
 */
import type nunjucks from "nunjucks";
import type { Node, NodeCtor, Token } from "./nodes.ts";
import type { AggregateNode } from "./jinja_tuples.ts";

interface CallParser {
  peekToken(): Token;
  nextToken(): Token;
  skip(type: string): boolean;
  skipValue(type: string, value: string): boolean;
  fail(msg: string, lineno?: number, colno?: number): never;
  parseExpression(): Node;
  parseSignature(tolerant?: boolean, noParens?: boolean): Node;
  parseFilterName(): Node;
  jinjaParseTest(node: Node): Node;
  parseFilterArgs(node: Node): Node[];
  /** The next parseSignature() reads a macro's or call block's parameters (no trailing comma). */
  jinjaParameters?: boolean;
}

/** nunjucks' parseSignature with Jinja2's rules for a call's arguments (see the module's doc). */
function patchCallArguments(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: Record<string, unknown> } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  Parser.prototype.parseSignature = function (this: CallParser, tolerant?: boolean, noParens?: boolean) {
    const parameters = this.jinjaParameters === true;
    this.jinjaParameters = false;
    let tok = this.peekToken();
    if (!noParens && tok.type !== "left-paren") {
      if (tolerant) return null;
      this.fail("expected arguments", tok.lineno, tok.colno);
    }
    if (tok.type === "left-paren") tok = this.nextToken();
    const args = new nodes.NodeList(tok.lineno, tok.colno) as unknown as { addChild(n: unknown): void };
    const kwargs = new nodes.KeywordArgs(tok.lineno, tok.colno) as unknown as {
      addChild(n: unknown): void;
      children: unknown[];
    };
    const end = () => noParens ? this.peekToken().type === "block-end" : this.skip("right-paren");
    let starArgs = false, starKwargs: Node | null = null;
    for (let first = true; !end(); first = false) {
      if (!first) {
        tok = this.peekToken();
        if (!this.skip("comma")) {
          this.fail("parseSignature: expected comma after expression", tok.lineno, tok.colno);
        }
        if (!parameters && !noParens && this.skip("right-paren")) break;
      }
      const star = this.peekToken();
      if (!parameters && star.type === "operator" && (star.value === "*" || star.value === "**")) {
        this.nextToken();
        const value = this.parseExpression();
        if (star.value === "*") {
          if (starArgs || starKwargs) {
            this.fail("invalid syntax for function call expression", star.lineno, star.colno);
          }
          starArgs = true;
          args.addChild(new nodes.JinjaStarArgs(star.lineno, star.colno, value));
        } else {
          if (starKwargs) this.fail("invalid syntax for function call expression", star.lineno, star.colno);
          starKwargs = new nodes.JinjaStarKwargs(star.lineno, star.colno, value);
        }
        continue;
      }
      const arg = this.parseExpression();
      if (this.skipValue("operator", "=")) {
        if (arg.typename !== "Symbol") {
          this.fail("invalid syntax: a keyword argument must be a name", arg.lineno, arg.colno);
        }
        if (starKwargs) this.fail("invalid syntax for function call expression", arg.lineno, arg.colno);
        kwargs.addChild(new nodes.Pair(arg.lineno, arg.colno, arg, this.parseExpression()));
      } else if (kwargs.children.length || starArgs || starKwargs) {
        this.fail("invalid syntax: a positional argument after a keyword argument", arg.lineno, arg.colno);
      } else args.addChild(arg);
    }
    if (starKwargs) kwargs.addChild(starKwargs);
    if (kwargs.children.length) args.addChild(kwargs);
    return args;
  };
  // the parameter lists of `{% macro m(a, b=1) %}` and `{% call(x) m() %}`
  for (const statement of ["parseMacro", "parseCall"]) {
    const parse = Parser.prototype[statement] as (this: CallParser) => Node;
    Parser.prototype[statement] = function (this: CallParser) {
      this.jinjaParameters = true;
      try {
        return parse.call(this);
      } finally {
        this.jinjaParameters = false;
      }
    };
  }
}

/**
 * Jinja2's filter expression: `|name`, `|name(args)`, and a call of what the filters so far give
 * (`x|attr('split')('-')`, `x|f()(1)|g`), in any order after the value.
 */
function patchFilterCalls(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: Record<string, unknown> } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  // the filter's own arguments: one parenthesized list (nunjucks took every call and index after it)
  Parser.prototype.parseFilterArgs = function (this: CallParser) {
    return this.peekToken().type === "left-paren" ? this.parseSignature().children ?? [] : [];
  };
  Parser.prototype.parseFilter = function (this: CallParser, node: Node) {
    let filtered = false;
    for (;;) {
      const tok = this.peekToken();
      if (this.skip("pipe")) {
        const name = this.parseFilterName();
        const args = new nodes.NodeList(name.lineno, name.colno, [node, ...this.parseFilterArgs(node)]);
        node = new nodes.Filter(name.lineno, name.colno, name, args);
        filtered = true;
      } else if (tok?.type === "symbol" && tok.value === "is") {
        // a test binds as a filter does (Jinja2's parse_filter_expr): `5 - 1 is even` tests 1
        this.nextToken();
        node = this.jinjaParseTest(node);
      } else if (filtered && tok?.type === "left-paren") {
        node = new nodes.FunCall(tok.lineno, tok.colno, node, this.parseSignature());
      } else return node;
    }
  };
}

/** A `[k]` lookup, not a `.y` one: compiled to Jinja2's getitem (jinja_expressions.ts). */
export interface ItemLookup {
  jinjaItem?: boolean;
}

/** nunjucks' parsePostfix (calls, `[k]`, `.y`), marking `[k]` lookups and reading `l.0.1` as two indexes. */
function patchLookups(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: Record<string, unknown> } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  type PostfixParser = CallParser & { parseAggregate(): Node | null; pushToken(tok: Token): void };
  Parser.prototype.parsePostfix = function (this: PostfixParser, node: Node) {
    const lookup = (at: Token, key: Node) => new nodes.LookupVal(at.lineno, at.colno, node, key);
    for (let tok = this.peekToken(); tok; tok = this.peekToken()) {
      if (tok.type === "left-paren") {
        node = new nodes.FunCall(tok.lineno, tok.colno, node, this.parseSignature());
      } else if (tok.type === "left-bracket") {
        const keys = this.parseAggregate();
        if (keys!.children!.length > 1) this.fail("invalid index");
        // `l[0,]` is a tuple subscript in Jinja2, which refuses the comma
        if ((keys as AggregateNode).jinjaTrailingComma) this.fail("unexpected ']'", tok.lineno, tok.colno);
        // `l[]` is `l[()]`, an empty tuple as the key (undefined)
        const key = keys!.children!.length
          ? keys!.children![0]
          : new nodes.JinjaTuple(tok.lineno, tok.colno, []);
        node = Object.assign(lookup(tok, key), { jinjaItem: true });
      } else if (tok.type === "operator" && tok.value === ".") {
        this.nextToken();
        const val = this.nextToken();
        const index = val?.type === "float" ? /^(\d+)\.(\d*)$/.exec(val.value) : null;
        if (index) {
          node = lookup(tok, new nodes.Literal(val.lineno, val.colno, index[1]));
          if (index[2]) node = lookup(tok, new nodes.Literal(val.lineno, val.colno, index[2]));
          else this.pushToken({ type: "operator", value: ".", lineno: val.lineno, colno: val.colno });
        } else if (val?.type === "symbol") {
          node = lookup(tok, new nodes.Literal(val.lineno, val.colno, val.value));
        } else this.fail(`expected name as lookup value, got ${val?.value}`, val?.lineno, val?.colno);
      } else break;
    }
    return node;
  };
}

/** A compiler as the spreading of `*args` and `**kwargs` needs it. */
interface StarCompiler {
  compile(node: unknown, frame: unknown): void;
  _emit(code: string): void;
  _compileExpression(node: unknown, frame: unknown): void;
}

/**
 * `f(*args)` spreads the items into the call's arguments; `f(a=1, **kw)` merges the mapping into its
 * keywords (a keyword given twice is a TypeError, as in Python).
 */
function installStarArguments(nj: typeof nunjucks): void {
  type Extensible = NodeCtor & { extend(name: string, props: object): Extensible };
  const nodes = (nj as unknown as { nodes: Record<string, Extensible> }).nodes;
  nodes.JinjaStarArgs = nodes.Node.extend("JinjaStarArgs", { fields: ["value"] });
  nodes.JinjaStarKwargs = nodes.Node.extend("JinjaStarKwargs", { fields: ["value"] });
  const proto = (nj as unknown as { compiler: { Compiler: { prototype: Record<string, unknown> } } }).compiler
    .Compiler.prototype;
  proto.compileJinjaStarArgs = function (this: StarCompiler, node: { value: unknown }, frame: unknown) {
    this._emit("...runtime.jinjaStarArgs(");
    this._compileExpression(node.value, frame);
    this._emit(")");
  };
  const compileKeywordArgs = proto.compileKeywordArgs as (this: StarCompiler, ...a: unknown[]) => void;
  proto.compileKeywordArgs = function (this: StarCompiler, node: { children: Node[] }, frame: unknown) {
    const star = node.children.find((c) => c.typename === "JinjaStarKwargs") as
      | (Node & { value: unknown })
      | undefined;
    if (!star) return compileKeywordArgs.call(this, node, frame);
    this._emit("runtime.makeKeywordArgs(runtime.jinjaMergeKwargs({");
    node.children.filter((c) => c !== star).forEach((pair, i) => {
      if (i) this._emit(", ");
      this.compile(pair, frame);
    });
    this._emit("}, ");
    this._compileExpression(star.value, frame);
    this._emit("))");
  };
}

/** Patches nunjucks' parser with Jinja2's calls; once per process (installJinjaSemantics). */
export function installCalls(nj: typeof nunjucks): void {
  installStarArguments(nj);
  patchCallArguments(nj);
  patchFilterCalls(nj);
  patchLookups(nj);
}
