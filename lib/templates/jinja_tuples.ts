/**
 * Jinja2's list, tuple and dict literals and its tuples without parentheses, patched into nunjucks'
 * parser (installed by installJinjaSemantics, after the calls):
 *
 * - a literal may end with a comma (`[1, 2,]`, `{'a': 1,}`, `(1, 2,)`), and `(1,)` is a one-item tuple
 *   (nunjucks refused the comma: `unexpected token: ]`); `()` is the empty tuple;
 * - a literal ends with its own bracket: `[1, 2)` is refused (nunjucks closed any literal with any
 *   bracket and rendered it);
 * - a tuple without parentheses where Jinja2 reads one: `{{ 1, 2 }}`, `{% set x = a, b %}`,
 *   `{% for x in a, b %}`, `{% if a, %}`;
 * - assignment targets in parentheses, nested or with a trailing comma: `for (a, b,) in`,
 *   `for k, (a, b) in`, `set (a, b) = pair`, `set (a,) = one`.
 *
 * A tuple is a JinjaTuple node (a Group with its own name, so that nunjucks' transformer keeps it),
 * compiled to `runtime.jinjaTuple([...])`.
 */
import type nunjucks from "nunjucks";
import type { Node, Token } from "./nodes.ts";
import type { CompilerProto } from "./jinja_expressions.ts";
import { pyRepr, pyType } from "./pyvalues.ts";
import { type FilterParser, parseFilteredBody } from "./statements_set.ts";
import type { Hooks } from "./statements_scope.ts";

type Ctor = (new (lineno: number, colno: number, ...fields: unknown[]) => Node) & {
  extend(name: string, props?: object): Ctor;
};

/** The lexer's position (a literal that fails is read again as a slice). */
interface LexState {
  index: number;
  lineno: number;
  colno: number;
  jinjaDepth?: number;
}

/** What the helpers below need of nunjucks' parser. */
interface MiniParser {
  peekToken(): Token | null;
  skip(type: string): boolean;
  fail(msg: string, lineno?: number, colno?: number): never;
}

interface TupleParser extends MiniParser {
  nextToken(withWhitespace?: boolean): Token | null;
  skipSymbol(name: string): boolean;
  skipValue(type: string, value: string): boolean;
  parsePrimary(noPostfix?: boolean): Node;
  parseExpression(): Node;
  parseUntilBlocks(...names: string[]): Node;
  advanceAfterBlockEnd(name?: string): Token;
  /** The last token consumed (not peeked): a `{{` makes the expression after it a possible tuple. */
  jinjaConsumed?: Token | null;
  /** The next parseExpression() may read a tuple without parentheses (`{% if a, %}`). */
  jinjaTupleNext?: boolean;
}

/** A literal's closing bracket, by its opening one. */
const CLOSERS: Record<string, string> = {
  "left-paren": "right-paren",
  "left-bracket": "right-bracket",
  "left-curly": "right-curly",
};
const CLOSING = new Set(Object.values(CLOSERS));

/** An aggregate node with the marker a subscript needs (`l[0,]` is refused, as in Jinja2). */
export interface AggregateNode extends Node {
  jinjaTrailingComma?: boolean;
}

/** Whether a tuple without parentheses ends here (after a comma): at the tag's end or one of `words`. */
function tupleEnds(tok: Token | null, words: readonly string[]): boolean {
  return !tok || tok.type === "block-end" || tok.type === "variable-end" ||
    (tok.type === "symbol" && words.includes(tok.value));
}

/** A dict literal's value from its keys and values in turn: own keys, strings only (kunai's dicts). */
function dictOf(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i];
    if (typeof k !== "string" && !(k instanceof String)) {
      throw new Error(`TypeError: kunai's dicts take string keys only, not ${pyType(k)} (${pyRepr(k)})`);
    }
    Object.defineProperty(out, String(k), {
      value: flat[i + 1],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** nodes.JinjaTuple, set by installTuples. */
let JinjaTuple: Ctor | null = null;

/**
 * After `first`, the rest of a tuple without parentheses (`a, b`, `a,`), each item read by `item`;
 * `first` itself when no comma follows. `ends`: words that end the tuple after a comma (`recursive`).
 */
export function parseTupleTail<V>(
  p: MiniParser,
  first: Node<V>,
  item: () => Node<V>,
  ends: readonly string[] = [],
): Node<V> {
  if (p.peekToken()?.type !== "comma") return first;
  const items = [first];
  while (p.skip("comma")) {
    if (tupleEnds(p.peekToken(), ends)) break;
    items.push(item());
  }
  return new JinjaTuple!(first.lineno, first.colno, items) as Node<V>;
}

/**
 * An assignment target (`for` and `set`): a name, or names and targets in parentheses, which become a
 * target that unpacks (an Array node; `(a)` is `a`, `(a,)` unpacks one item).
 */
export function targetOf<V>(p: MiniParser, node: Node<V>, what: string): Node<V> {
  if (node.typename === "Symbol") return node;
  if (node.typename === "JinjaTuple") {
    const children = (node.children ?? []).map((c) => targetOf(p, c, what));
    if (!children.length) p.fail(`${what}: can only assign to names`, node.lineno, node.colno);
    return new (arrayCtor!)(node.lineno, node.colno, children) as Node<V>;
  }
  if (node.typename === "Group" && node.children?.length === 1) return targetOf(p, node.children[0], what);
  return p.fail(`${what}: can only assign to names`, node.lineno, node.colno);
}

let arrayCtor: Ctor | null = null;

/** Patches nunjucks' parser and compiler with Jinja2's literals and tuples; once per process. */
export function installTuples(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: TupleParser } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, Ctor> }).nodes;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: CompilerProto } } }).compiler
    .Compiler;
  const proto = Parser.prototype as TupleParser & Record<string, unknown>;
  JinjaTuple = nodes.Group.extend("JinjaTuple");
  // the transformer rebuilds a node by its type's name
  nodes.JinjaTuple = JinjaTuple;
  arrayCtor = nodes.Array;

  // nunjucks' jinja-compat reads a slice (`l[1:]`) when the literal fails: the same here (a node type of
  // the same name, which its compileSlice compiles)
  const Slice = nodes.Node.extend("Slice", {
    fields: ["start", "stop", "step"],
    init(this: { parent(...a: unknown[]): void }, lineno: number, colno: number, ...parts: unknown[]) {
      const [start, stop, step] = parts;
      this.parent(
        lineno,
        colno,
        start ?? new nodes.Literal(lineno, colno, null),
        stop ?? new nodes.Literal(lineno, colno, null),
        step ?? new nodes.Literal(lineno, colno, 1),
      );
    },
  });
  const proto_ = Compiler.prototype as unknown as Record<string, (...a: unknown[]) => void>;
  const assertType = proto_.assertType;
  proto_.assertType = function (this: unknown, node: unknown, ...types: unknown[]) {
    if ((node as Node).typename !== "Slice") assertType.call(this, node, ...types);
  };
  const aggregate = function (this: TupleParser): Node | null {
    const open = this.nextToken();
    if (!open || !(open.type in CLOSERS)) return null;
    const closer = CLOSERS[open.type];
    const items: Node[] = [];
    let comma = false, trailing = false;
    for (;;) {
      const tok = this.peekToken();
      if (tok?.type === closer) {
        this.nextToken();
        break;
      }
      if (!tok || CLOSING.has(tok.type)) {
        this.fail(`unexpected '${tok?.value ?? "end of template"}'`, tok?.lineno, tok?.colno);
      }
      if (items.length > 0) {
        if (!this.skip("comma")) this.fail("expected a comma after an expression", tok.lineno, tok.colno);
        comma = true;
        // a trailing comma: `[1, 2,]`, `(1,)`
        trailing = this.peekToken()?.type === closer;
        if (trailing) continue;
      }
      if (open.type === "left-curly") {
        const key = this.parseExpression();
        if (!this.skip("colon")) this.fail("expected a colon after a dict key", key.lineno, key.colno);
        const value = this.parseExpression();
        items.push(new nodes.Pair(key.lineno, key.colno, key, value));
      } else items.push(this.parseExpression());
    }
    const ctor = open.type === "left-bracket"
      ? nodes.Array
      : open.type === "left-curly"
      ? nodes.Dict
      : comma || items.length === 0
      ? JinjaTuple!
      : nodes.Group;
    const node = new ctor(open.lineno, open.colno, items) as AggregateNode;
    // only a subscript needs to know: Jinja2 refuses `l[0,]`
    if (trailing) node.jinjaTrailingComma = true;
    return node;
  };
  const slice = function (this: TupleParser, open: Token): Node | null {
    const node = new Slice(open.lineno, open.colno) as Node & Record<string, unknown>;
    let isSlice = false;
    for (const field of ["start", "stop", "step", ""]) {
      if (this.skip("right-bracket")) break;
      if (!field) {
        if (isSlice) this.fail("too many slice components", open.lineno, open.colno);
        break;
      }
      if (this.skip("colon")) isSlice = true;
      else {
        node[field] = this.parseExpression();
        isSlice = this.skip("colon") || isSlice;
      }
    }
    return isSlice ? new nodes.Array(open.lineno, open.colno, [node]) : null;
  };
  proto.parseAggregate = function (this: TupleParser & { tokens: LexState; peeked: Token | null }) {
    // the opening bracket was peeked: where it starts (and the brackets open before it, jinja_lexer.ts)
    const t = this.tokens;
    const start = {
      index: t.index - 1,
      lineno: t.lineno,
      colno: t.colno - 1,
      jinjaDepth: (t.jinjaDepth ?? 1) - 1,
    };
    try {
      return aggregate.call(this);
    } catch (err) {
      Object.assign(this.tokens, start);
      this.peeked = null;
      const open = this.nextToken();
      if (open?.type !== "left-bracket") throw err;
      const node = slice.call(this, open);
      if (!node) throw err;
      return node;
    }
  };

  // `{{ a, b }}`: the expression after `{{` may be a tuple; so may an `if`'s condition
  const nextToken = proto.nextToken;
  proto.nextToken = function (this: TupleParser, withWhitespace?: boolean) {
    const tok = nextToken.call(this, withWhitespace);
    this.jinjaConsumed = tok;
    return tok;
  };
  const peekToken = proto.peekToken;
  proto.peekToken = function (this: TupleParser) {
    const consumed = this.jinjaConsumed;
    const tok = peekToken.call(this);
    this.jinjaConsumed = consumed;
    return tok;
  };
  const parseExpression = proto.parseExpression;
  proto.parseExpression = function (this: TupleParser) {
    const tuple = this.jinjaTupleNext || this.jinjaConsumed?.type === "variable-start";
    this.jinjaTupleNext = false;
    this.jinjaConsumed = null;
    const node = parseExpression.call(this);
    return tuple ? parseTupleTail(this, node, () => parseExpression.call(this)) : node;
  };
  const parseIf = proto.parseIf as (this: TupleParser) => Node;
  proto.parseIf = function (this: TupleParser) {
    this.jinjaTupleNext = true;
    return parseIf.call(this);
  };

  // `{% set a, b = 1, 2 %}`, `{% set (a, b) = pair %}`, `{% set ns.x = v %}`, `{% set x %}...{% endset %}`
  proto.parseSet = function (this: TupleParser) {
    const tag = this.peekToken()!;
    if (!this.skipSymbol("set")) this.fail("parseSet: expected set", tag.lineno, tag.colno);
    const node = new nodes.Set(tag.lineno, tag.colno, []) as Node & {
      targets: Node[];
      value: Node | null;
      body: Node | null;
    };
    for (;;) {
      const target = this.parsePrimary();
      // a name, a namespace's attribute or names in parentheses (an Array node: they unpack)
      node.targets.push(target.typename === "LookupVal" ? target : targetOf(this, target, "set"));
      if (!this.skip("comma")) break;
    }
    if (node.targets.length > 1 && node.targets.some((t) => t.typename === "LookupVal")) {
      this.fail("set: can only assign to names or one namespace attribute", tag.lineno, tag.colno);
    }
    if (this.skipValue("operator", "=")) {
      const value = this.parseExpression();
      node.value = parseTupleTail(this, value, () => this.parseExpression());
      node.body = null;
      this.advanceAfterBlockEnd("set");
    } else if (this.peekToken()?.type === "block-end") {
      if (node.targets.length > 1 || node.targets[0].typename === "Array") {
        this.fail("set: a block assigns one name", tag.lineno, tag.colno);
      }
      // past the tag as any block's end: a `-%}` strips the whitespace after it (skip() ignored the `-`)
      this.advanceAfterBlockEnd("set");
      node.body = new nodes.Capture(tag.lineno, tag.colno, this.parseUntilBlocks("endset"));
      node.value = null;
      this.advanceAfterBlockEnd();
    } else if (this.skip("pipe")) {
      // `{% set x | upper %}...{% endset %}`: the block through its filters
      if (node.targets.length > 1 || node.targets[0].typename === "Array") {
        this.fail("set: a block assigns one name", tag.lineno, tag.colno);
      }
      const parser = this as unknown as FilterParser;
      node.body = parseFilteredBody.call(parser, nodes as unknown as Hooks["nodes"], "set", "endset");
      node.value = null;
    } else this.fail("parseSet: expected = or block end in set tag", tag.lineno, tag.colno);
    return node;
  };

  // `{name: v}`: the key is an expression, `name` the variable (nunjucks made it the string 'name'), and
  // every key is the dict's own (`{'__proto__': 1}` set the object's prototype)
  const compilers = Compiler.prototype as unknown as Record<
    string,
    (this: CompilerProto, ...a: unknown[]) => void
  >;
  const compileDict = compilers.compileDict;
  compilers.compileDict = function (this: CompilerProto, node: unknown, frame: unknown) {
    const n = node as { typename: string; children: Array<{ key: unknown; value: unknown }> };
    // a call's keywords (a Dict too) are names
    if (n.typename !== "Dict") return compileDict.call(this, node, frame);
    this._emit("runtime.jinjaDict([");
    n.children.forEach((pair, i) => {
      if (i) this._emit(", ");
      this._compileExpression(pair.key, frame);
      this._emit(", ");
      this._compileExpression(pair.value, frame);
    });
    this._emit("])");
  };
  const runtime = (nj as unknown as { runtime: Record<string, unknown> }).runtime;
  runtime.jinjaDict = dictOf;

  // `(1,)`, `()`: a tuple
  (Compiler.prototype as unknown as Record<string, unknown>).compileJinjaTuple = function (
    this: CompilerProto,
    node: { children: unknown[] },
    frame: unknown,
  ) {
    this._emit("runtime.jinjaTuple(");
    this._compileAggregate(node, frame, "[", "]");
    this._emit(")");
  };
}
