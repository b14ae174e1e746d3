/**
 * Jinja2's `{% with a = 1, b = x %}...{% endwith %}`: a scope with its own names, the values computed
 * before any is bound. Parsed into a With node and compiled here (installed by installStatements).
 */
import {
  bindTarget,
  type Compiler,
  type Frame,
  type Hooks,
  type Node,
  type Parser,
} from "./statements_scope.ts";

interface WithNode extends Node {
  targets: Node;
  values: Node;
  body: Node;
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

/** Installs `with`: its node type, parser and compiler. */
export function installWith(h: Hooks): void {
  const { nodes, lexer, compiler } = h;
  const With = nodes.Node.extend("With", { fields: ["targets", "values", "body"] });
  // the transformer rebuilds a node by its type's name
  nodes.With = With;

  const proto = h.parser;
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
  compiler.compileWith = compileWith;
}
