/**
 * What the statement modules (statements_*.ts) share: nunjucks' parser, compiler and compile-time
 * frame as they see them, the pieces of nunjucks they extend (Hooks), and how a statement binds a
 * name in its scope (in the runtime frame and the compile-time one).
 */
import type { Node as AnyNode, Token } from "./nodes.ts";

export type Node = AnyNode<string>;

export type NodeCtor = (new (lineno: number, colno: number, ...fields: unknown[]) => Node) & {
  extend(name: string, props: object): NodeCtor;
};
export interface Tokenizer {
  str: string;
  index: number;
  in_code: boolean;
  trimBlocks: boolean;
  lstripBlocks: boolean;
  tags: { BLOCK_START: string; BLOCK_END: string };
  forward(): void;
}
export interface Parser {
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
export interface Frame {
  variables: Record<string, string>;
  parent: Frame | null;
  set(name: string, value: string): void;
  lookup(name: string): string | undefined;
  push(isolateWrites?: boolean): Frame;
}
export interface Compiler {
  buffer: string;
  /** The template's path (its name for an inline one: undefined), as nunjucks compiles it. */
  templateName?: string;
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

/** nunjucks' pieces the statements extend, taken once by installStatements. */
export interface Hooks {
  nodes: Record<string, NodeCtor>;
  /** Parser.prototype */
  parser: Parser;
  lexer: Record<string, string>;
  /** Compiler.prototype */
  compiler: Record<string, unknown>;
  runtime: Record<string, unknown>;
}

/** The expression that reads `name` from the runtime frames (every binding is set there too). */
export const lookupOf = (name: string) =>
  `runtime.contextOrFrameLookup(context, frame, ${JSON.stringify(name)})`;

/** Binds a loop target (a name, or names a tuple unpacks into) in the runtime frame and the compile-time one. */
export function bindTarget(c: Compiler, target: Node, item: string, frame: Frame): void {
  if (target.typename === "Symbol") {
    c._emitLine(`frame.set(${JSON.stringify(target.value)}, ${item});`);
    frame.set(target.value!, lookupOf(target.value!));
    return;
  }
  // names a tuple unpacks into, some maybe tuples themselves (`for k, (a, b) in ...`)
  const targets = target.children ?? [];
  const parts = c._tmpid();
  c._emitLine(`var ${parts} = runtime.jinjaUnpack(${item}, ${targets.length});`);
  targets.forEach((t, i) => {
    if (t.typename !== "Symbol" && t.typename !== "Array") {
      c.fail("for: can only assign to names", t.lineno, t.colno);
    }
    bindTarget(c, t, `${parts}[${i}]`, frame);
  });
}
