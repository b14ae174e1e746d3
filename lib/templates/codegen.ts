/**
 * What template text may put in the JavaScript nunjucks compiles a template to: data, never code.
 * nunjucks pasted some of it between quotes with partial escaping, so a template could run any
 * JavaScript:
 *
 * - a call's name for its error message (`'\\")));...;//'.upper()`: the backslash was not escaped,
 *   the quote was, and the backslash escaped the escape),
 * - a test given as a string (`x is 'odd").call(...)'`), pasted as the test's name,
 * - a name with quotes or backticks (`a"&&Function`...`&&"`): its lexer took anything up to an
 *   operator or a space as a name, where Jinja2's takes an identifier only.
 *
 * Now every string from the template reaches the code through jsString() (JSON's escaping, which
 * leaves no way out of the quotes), every name is an identifier (refused by the lexer otherwise, as
 * Jinja2 does) and a test is a name.
 */
import type nunjucks from "nunjucks";
import { strRepr } from "../evaluator/mod.ts";
import { nodeText } from "./jinja_expressions.ts";
import { PyFloat } from "./pyfloat.ts";
import type { Node, Token } from "./nodes.ts";

/**
 * A JavaScript string literal holding `s` exactly: JSON's quoting (quotes, backslashes, control
 * characters, lone surrogates escaped) and U+2028/U+2029, which older engines end a line at.
 */
export function jsString(s: string): string {
  return JSON.stringify(s).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** A name as Jinja2's lexer reads one (a Python identifier); also a valid part of a JavaScript one. */
const NAME = /^[\p{ID_Start}_][\p{ID_Continue}]*$/u;
/** What nunjucks' lexer may hand on as a name besides one: the `0` of `item.0` (jinja_lexer.ts). */
const INDEX = /^\d+$/;

interface Compiler {
  _emit(code: string): void;
  _compileExpression(node: unknown, frame: unknown): void;
  _compileAggregate(node: unknown, frame: unknown, start: string, end: string): void;
  fail(msg: string, lineno?: number, colno?: number): never;
}
type CompileFn = (this: Compiler, node: Node, frame: { lookup(name: string): string | undefined }) => void;

/** The first character of `name` that cannot be in a name. */
function badChar(name: string): string {
  const chars = [...name];
  const at = chars.findIndex((c, i) => !NAME.test(i === 0 ? c : "_" + c));
  return chars[Math.max(at, 0)];
}

/** Patches nunjucks' lexer and compiler so that template text is only ever data in the compiled code. */
export function installSafeCodegen(nj: typeof nunjucks): void {
  const api = nj as unknown as {
    lexer: { lex(src: string, opts: object): { nextToken(): Token | null } };
    compiler: { Compiler: { prototype: Record<string, CompileFn> } };
    lib: { TemplateError: new (msg: string, lineno: number, colno: number) => Error };
  };
  const tokenizer = Object.getPrototypeOf(api.lexer.lex("", {})) as { nextToken(): Token | null };
  const nextToken = tokenizer.nextToken;
  tokenizer.nextToken = function () {
    const tok = nextToken.call(this);
    if (tok?.type === "symbol" && !NAME.test(tok.value) && !INDEX.test(tok.value)) {
      // Jinja2: "unexpected char '\"' at 4"
      throw new api.lib.TemplateError(
        `unexpected char ${strRepr(badChar(tok.value))} in ${strRepr(tok.value)}`,
        tok.lineno + 1,
        tok.colno + 1,
      );
    }
    return tok;
  };

  const proto = api.compiler.Compiler.prototype;
  const compileLiteral = proto.compileLiteral;
  proto.compileLiteral = function (node, frame) {
    const v = node.value;
    if (typeof v === "string") this._emit(jsString(v));
    else if (v === null || typeof v === "number" || typeof v === "boolean" || v instanceof PyFloat) {
      compileLiteral.call(this, node, frame);
    } else this.fail(`unexpected literal ${String(v)}`, node.lineno, node.colno);
  };
  // a name the compiled code looks up, quoted as any other string (the lexer only lets names through)
  const compileSymbol = proto.compileSymbol;
  proto.compileSymbol = function (node, frame) {
    if (frame.lookup(String(node.value))) compileSymbol.call(this, node, frame);
    else this._emit(`runtime.contextOrFrameLookup(context, frame, ${jsString(String(node.value))})`);
  };
  // nunjucks' compileFunCall, with the callee's text (for "Unable to call `x`") quoted by jsString
  proto.compileFunCall = function (node, frame) {
    this._emit(`(lineno = ${Number(node.lineno)}, colno = ${Number(node.colno)}, `);
    this._emit("runtime.callWrap(");
    this._compileExpression(node.name, frame);
    this._emit(`, ${jsString(nodeText(node.name))}, context, `);
    this._compileAggregate((node as unknown as { args: unknown }).args, frame, "[", "])");
    this._emit(")");
  };
  // `x is odd`, `x is divisibleby(3)`: a test is a name (Jinja2: "expected token 'name', got 'string'")
  const compileIs = proto.compileIs;
  proto.compileIs = function (node, frame) {
    const right = (node as unknown as { right: Node }).right;
    const test = right.typename === "FunCall" ? right.name! : right;
    // `none`, `true`, `false` are names in Jinja2, literals in nunjucks (and its tests' names)
    const keyword = test.typename === "Literal" && (test.value === null || typeof test.value === "boolean");
    if (!keyword && (test.typename !== "Symbol" || !NAME.test(String(test.value)))) {
      this.fail(`expected a test name after 'is', got ${nodeText(test)}`, test.lineno, test.colno);
    }
    compileIs.call(this, node, frame);
  };
}
