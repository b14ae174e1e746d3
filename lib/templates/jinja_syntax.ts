/**
 * nunjucks' parser patched with two pieces of Jinja2's expression syntax (installed by
 * installJinjaSemantics): a test's argument without parentheses (`x is divisibleby 3`) and float
 * literals with an integral value (`2.0`, `1e3`), which stay floats (pyfloat.ts).
 */
import type nunjucks from "nunjucks";
import { PyFloat } from "./pyfloat.ts";
import type { NodeCtor, Token } from "./nodes.ts";
import type { CompilerProto } from "./jinja_expressions.ts";

interface ParserState {
  parseCompare(): { typename: string; lineno: number; colno: number };
  parsePrimary(noPostfix?: boolean): unknown;
  parsePostfix(node: unknown): unknown;
  peekToken(): Token | null;
  nextToken(): Token | null;
  skipSymbol(name: string): boolean;
  parseIs(): unknown;
  jinjaParseTest(node: unknown): unknown;
  fail(msg: string, lineno?: number, colno?: number): never;
}

/**
 * Words that end an expression rather than start a test's argument (`x is odd and y`): Jinja2's three. Any
 * other name starts one, as in Jinja2 (`x is defined if y else z` is a syntax error there too).
 */
const NOT_AN_ARGUMENT = new Set(["and", "or", "else"]);

/**
 * Jinja2 lets one argument follow a test without parentheses (`x is divisibleby 3`, `v is sameas false`);
 * nunjucks read the argument as the end of the expression and failed. The argument becomes the call's.
 */
export function patchTestArguments(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: ParserState } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  // `x is test`, after `is`: called where Jinja2 reads a test, with the filters (calls.ts parseFilter)
  Parser.prototype.jinjaParseTest = function (this: ParserState, node: unknown) {
    const not = this.skipSymbol("not");
    // a test's name is a name, never subscripted: `x is in [1, 2]` is the test `in` given a list
    // (nunjucks read `in[1, 2]`, an index); `none`, `true` and `false` too, the filters after them the
    // test's (`x is none|string` is `(x is none)|string`; they were read as the test's name)
    const name = this.peekToken();
    let test = name?.type === "symbol" || name?.type === "none" || name?.type === "boolean"
      ? this.parsePrimary(true) as ReturnType<ParserState["parseCompare"]>
      : this.parseCompare();
    if (test.typename === "Symbol" && this.peekToken()?.type === "left-paren") {
      test = this.parsePostfix(test) as typeof test;
    }
    const next = this.peekToken();
    if (next?.type === "symbol" && next.value === "is") {
      this.fail("you cannot chain multiple tests with is", next.lineno, next.colno);
    }
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
  Parser.prototype.parseIs = function (this: ParserState) {
    const node: unknown = this.parseCompare();
    return this.skipSymbol("is") ? this.jinjaParseTest(node) : node;
  };
}

/**
 * A float literal with an integral value (`2.0`, `1e3`) is a float, printed `2.0` (pyfloat.ts);
 * nunjucks made it the number 2.
 */
export function patchFloatLiterals(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: ParserState } } }).parser;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: Record<string, unknown> } } })
    .compiler.Compiler;
  const parsePrimary = Parser.prototype.parsePrimary;
  Parser.prototype.parsePrimary = function (this: ParserState, noPostfix?: boolean) {
    const tok = this.peekToken();
    if (tok?.type === "string") {
      // adjacent string literals are one, as in Python and Jinja2 (`'a' 'b'` is 'ab')
      const node = parsePrimary.call(this, true) as { value: string };
      for (let next = this.peekToken(); next?.type === "string"; next = this.peekToken()) {
        this.nextToken();
        node.value += next.value;
      }
      return noPostfix ? node : this.parsePostfix(node);
    }
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
