/**
 * How a template calls things, parsed as Jinja2 parses it (installed by installJinjaSemantics):
 *
 * - **a filter's result called**: `x|attr('split')('-')` calls what the filter gives, as Jinja2
 *   does; nunjucks took both parenthesized lists for the filter's and gave it the last
 *   (`attr('-')`: an empty string, without a word).
 */
import type nunjucks from "nunjucks";

interface Token {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}
interface Node {
  typename: string;
  lineno: number;
  colno: number;
  children?: Node[];
}
type NodeCtor = new (lineno: number, colno: number, ...fields: unknown[]) => Node;
interface CallParser {
  peekToken(): Token;
  skip(type: string): boolean;
  parseSignature(tolerant?: boolean, noParens?: boolean): Node;
  parseFilterName(): Node;
  parseFilterArgs(node: Node): Node[];
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
      } else if (filtered && tok?.type === "left-paren") {
        node = new nodes.FunCall(tok.lineno, tok.colno, node, this.parseSignature());
      } else return node;
    }
  };
}

/** Patches nunjucks' parser with Jinja2's calls; once per process (installJinjaSemantics). */
export function installCalls(nj: typeof nunjucks): void {
  patchFilterCalls(nj);
}
