/**
 * Jinja2's operator precedence, patched into nunjucks' parser (installed by installJinjaSemantics, after
 * the calls). nunjucks gave each operator a level of its own, so that `7 * 3 // 2` was `7 * (3 // 2)` (7,
 * not 10), `8 / 2 // 3` divided by zero and `'x' ~ i + 1` concatenated `i + 1`. Jinja2's levels, from
 * the loosest:
 *
 * - `a if b else c`, whose `else` part is one too (`'crit' if x > 90 else 'warn' if x > 80 else 'ok'`;
 *   nunjucks read an `or` there and refused the second `if`);
 * - comparisons, `in` and `not in`, chained (`a < b in c` is `a < b and b in c`; nunjucks put `in`
 *   above them: `0.0 != 'a' in 'a'` was a TypeError);
 * - `+` and `-`, left to right;
 * - `~`;
 * - `*`, `/`, `//`, `%`, left to right;
 * - `**` (left to right, as Jinja2: `2 ** 3 ** 2` is 64);
 * - unary `-`/`+`, then filters, calls and tests (`x is odd` binds as tightly as a filter: `5 - 1 is even`
 *   is `5 - (1 is even)`, as in Jinja2; nunjucks tested `5 - 1`).
 */
import type nunjucks from "nunjucks";
import type { Node, NodeCtor, Token } from "./nodes.ts";

interface PrecedenceParser {
  peekToken(): Token | null;
  nextToken(): Token | null;
  pushToken(tok: Token): void;
  skipValue(type: string, value: string): boolean;
  skipSymbol(name: string): boolean;
  fail(msg: string, lineno?: number, colno?: number): never;
  parseInlineIf(): Node;
  parseOr(): Node;
  parseIn(): Node;
  parseAdd(): Node;
  parseConcat(): Node;
  parseMul(): Node;
  parsePow(): Node;
}

const COMPARE = new Set(["==", "===", "!=", "!==", "<", ">", "<=", ">="]);
const MATH1: Record<string, string> = { "+": "Add", "-": "Sub" };
const MATH2: Record<string, string> = { "*": "Mul", "/": "Div", "//": "FloorDiv", "%": "Mod" };

export function installPrecedence(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: PrecedenceParser } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  const proto = Parser.prototype;
  // parse_condexpr: `body if cond else <condexpr>`, and `a if b if c` is `(a if b) if c`
  proto.parseInlineIf = function (this: PrecedenceParser) {
    let node = this.parseOr();
    while (this.skipSymbol("if")) {
      const cond = this.parseOr();
      const otherwise = this.skipSymbol("else") ? this.parseInlineIf() : null;
      node = new nodes.InlineIf(node.lineno, node.colno, cond, node, otherwise);
    }
    return node;
  };
  // parse_compare: comparisons and `in`/`not in` as one chain (nunjucks' parseIn is called by parseNot)
  proto.parseIn = function (this: PrecedenceParser) {
    const expr = this.parseAdd();
    const ops: Node[] = [];
    for (;;) {
      const tok = this.peekToken();
      if (tok?.type === "operator" && COMPARE.has(tok.value)) {
        this.nextToken();
        ops.push(new nodes.CompareOperand(tok.lineno, tok.colno, this.parseAdd(), tok.value));
      } else if (tok?.type === "symbol" && tok.value === "in") {
        this.nextToken();
        ops.push(new nodes.CompareOperand(tok.lineno, tok.colno, this.parseAdd(), "in"));
      } else if (tok?.type === "symbol" && tok.value === "not") {
        // `not` after an operand is `not in`, or the end of the expression (`a not b` is no syntax)
        this.nextToken();
        const next = this.peekToken();
        if (next?.type !== "symbol" || next.value !== "in") {
          this.fail("expected 'in' after 'not'", tok.lineno, tok.colno);
        }
        this.nextToken();
        ops.push(new nodes.CompareOperand(tok.lineno, tok.colno, this.parseAdd(), "notin"));
      } else break;
    }
    return ops.length ? new nodes.Compare(ops[0].lineno, ops[0].colno, expr, ops) : expr;
  };
  // parse_math1: `+` and `-` at one level, left to right
  proto.parseAdd = function (this: PrecedenceParser) {
    let node = this.parseConcat();
    for (
      let tok = this.peekToken();
      tok?.type === "operator" && Object.hasOwn(MATH1, tok.value);
      tok = this.peekToken()
    ) {
      this.nextToken();
      node = new nodes[MATH1[tok.value]](node.lineno, node.colno, node, this.parseConcat());
    }
    return node;
  };
  // parse_concat: `~` between `*`-level operands
  proto.parseConcat = function (this: PrecedenceParser) {
    let node = this.parseMul();
    while (this.skipValue("tilde", "~")) {
      node = new nodes.Concat(node.lineno, node.colno, node, this.parseMul());
    }
    return node;
  };
  // parse_math2: `*`, `/`, `//`, `%` at one level, left to right
  proto.parseMul = function (this: PrecedenceParser) {
    let node = this.parsePow();
    for (
      let tok = this.peekToken();
      tok?.type === "operator" && Object.hasOwn(MATH2, tok.value);
      tok = this.peekToken()
    ) {
      this.nextToken();
      node = new nodes[MATH2[tok.value]](node.lineno, node.colno, node, this.parsePow());
    }
    return node;
  };
}
