/**
 * Recursive-descent parser with Python's precedence (floor 0, pure):
 * tuple , < or < and < not < comparisons (chained) < ^ < + - < * / // % < unary - + < ** (right) < atoms.
 */
import type { Ast, BinaryOp, CompareOp } from "./ast.ts";
import { EvalError, type EvalLimits } from "./errors.ts";
import { type Token, tokenize } from "./lexer.ts";

const KEYWORDS = new Set([
  "and",
  "or",
  "not",
  "in",
  "is",
  "True",
  "False",
  "None",
  "if",
  "else",
  "lambda",
  "for",
]);
const COMPARE = new Set(["==", "!=", "<", ">", "<=", ">="]);

/** Parses `text` into an Ast; throws EvalError `syntax` (with column) or `limit`. */
export function parse(text: string, limits: EvalLimits): Ast {
  if (text.length > limits.maxLength) {
    throw new EvalError(
      "limit",
      `expression is ${text.length} characters long; the limit is ${limits.maxLength}`,
    );
  }
  const p = new Parser(tokenize(text), limits.maxDepth);
  if (p.peek().type === "end") throw new EvalError("syntax", "empty expression", 0);
  const ast = p.expressionList();
  const t = p.peek();
  if (t.type !== "end") throw p.unexpected(t);
  return ast;
}

class Parser {
  #i = 0;
  #depth = 0;
  constructor(readonly tokens: Token[], readonly maxDepth: number) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.#i + offset, this.tokens.length - 1)];
  }
  next(): Token {
    const t = this.peek();
    if (t.type !== "end") this.#i++;
    return t;
  }
  isOp(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.type === "op" && t.text === text;
  }
  isWord(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.type === "name" && t.text === text;
  }
  expectOp(text: string): Token {
    const t = this.peek();
    if (t.type !== "op" || t.text !== text) {
      throw new EvalError("syntax", `expected '${text}' but found ${describe(t)}`, t.pos);
    }
    return this.next();
  }
  unexpected(t: Token): EvalError {
    if (t.type === "name" && (t.text === "if" || t.text === "lambda" || t.text === "for")) {
      return new EvalError("syntax", `'${t.text}' is not supported in expressions`, t.pos);
    }
    if (t.type === "op" && t.text === "=") {
      return new EvalError("syntax", "assignment is not allowed; use '=='", t.pos);
    }
    return new EvalError("syntax", `unexpected ${describe(t)}`, t.pos);
  }

  /** Runs `fn` one nesting level deeper, enforcing maxDepth. */
  nested<T>(pos: number, fn: () => T): T {
    if (++this.#depth > this.maxDepth) {
      throw new EvalError("limit", `expression is nested deeper than ${this.maxDepth} levels`, pos);
    }
    try {
      return fn();
    } finally {
      this.#depth--;
    }
  }

  /** `a, b, c` at top level or inside parentheses (a trailing comma makes a tuple). */
  expressionList(): Ast {
    const first = this.test();
    if (!this.isOp(",")) return first;
    const items = [first];
    while (this.isOp(",")) {
      this.next();
      if (this.startsExpression()) items.push(this.test());
      else break;
    }
    return { type: "tuple", items, pos: first.pos };
  }

  startsExpression(): boolean {
    const t = this.peek();
    if (t.type === "num" || t.type === "str") return true;
    if (t.type === "name") return !KEYWORDS.has(t.text) || ["not", "True", "False", "None"].includes(t.text);
    return t.type === "op" && (t.text === "(" || t.text === "-" || t.text === "+");
  }

  test(): Ast {
    return this.nested(this.peek().pos, () => this.orTest());
  }

  orTest(): Ast {
    let left = this.andTest();
    while (this.isWord("or")) {
      const pos = this.next().pos;
      left = { type: "bool", op: "or", left, right: this.andTest(), pos };
    }
    return left;
  }

  andTest(): Ast {
    let left = this.notTest();
    while (this.isWord("and")) {
      const pos = this.next().pos;
      left = { type: "bool", op: "and", left, right: this.notTest(), pos };
    }
    return left;
  }

  notTest(): Ast {
    if (this.isWord("not")) {
      const pos = this.next().pos;
      return this.nested(pos, () => ({ type: "unary", op: "not", operand: this.notTest(), pos }));
    }
    return this.comparison();
  }

  compareOp(): CompareOp | "is" | "is not" | null {
    const t = this.peek();
    if (t.type === "op" && COMPARE.has(t.text)) return t.text as CompareOp;
    if (this.isWord("in")) return "in";
    if (this.isWord("not") && this.isWord("in", 1)) return "not in";
    if (this.isWord("is")) return this.isWord("not", 1) ? "is not" : "is";
    return null;
  }

  comparison(): Ast {
    const first = this.xor();
    const ops: CompareOp[] = [];
    const rest: Ast[] = [];
    for (let op = this.compareOp(); op !== null; op = this.compareOp()) {
      const t = this.next();
      if (op === "not in" || op === "is not") this.next();
      if (op === "is" || op === "is not") {
        throw new EvalError("syntax", `'${op}' is not supported; use '${op === "is" ? "==" : "!="}'`, t.pos);
      }
      ops.push(op);
      rest.push(this.xor());
    }
    if (ops.length === 0) return first;
    return { type: "compare", first, ops, rest, pos: first.pos };
  }

  xor(): Ast {
    let left = this.arith();
    while (this.isOp("^")) {
      const pos = this.next().pos;
      left = { type: "binary", op: "^", left, right: this.arith(), pos };
    }
    return left;
  }

  arith(): Ast {
    let left = this.term();
    while (this.isOp("+") || this.isOp("-")) {
      const t = this.next();
      left = { type: "binary", op: t.text as BinaryOp, left, right: this.term(), pos: t.pos };
    }
    return left;
  }

  term(): Ast {
    let left = this.factor();
    while (this.isOp("*") || this.isOp("/") || this.isOp("//") || this.isOp("%")) {
      const t = this.next();
      left = { type: "binary", op: t.text as BinaryOp, left, right: this.factor(), pos: t.pos };
    }
    return left;
  }

  factor(): Ast {
    if (this.isOp("-") || this.isOp("+")) {
      const t = this.next();
      return this.nested(
        t.pos,
        () => ({ type: "unary", op: t.text as "-" | "+", operand: this.factor(), pos: t.pos }),
      );
    }
    return this.power();
  }

  power(): Ast {
    const base = this.atom();
    if (!this.isOp("**")) return base;
    const t = this.next();
    return this.nested(
      t.pos,
      () => ({ type: "binary", op: "**", left: base, right: this.factor(), pos: t.pos }),
    );
  }

  atom(): Ast {
    const t = this.peek();
    let node: Ast;
    if (t.type === "num") {
      this.next();
      node = { type: "num", value: t.num!, pos: t.pos };
    } else if (t.type === "str") {
      let value = this.next().text;
      while (this.peek().type === "str") value += this.next().text; // 'a' 'b' == 'ab'
      node = { type: "str", value, pos: t.pos };
    } else if (t.type === "name") {
      node = this.nameOrCall();
    } else if (t.type === "op" && t.text === "(") {
      this.next();
      node = this.nested(t.pos, () => {
        if (this.isOp(")")) return { type: "tuple", items: [], pos: t.pos } as Ast;
        const inner = this.expressionList();
        return inner;
      });
      this.expectOp(")");
    } else if (t.type === "end") {
      throw new EvalError("syntax", "unexpected end of expression", t.pos);
    } else {
      throw this.unexpected(t);
    }
    const after = this.peek();
    if (after.type === "op" && after.text === "(") {
      throw new EvalError(
        "syntax",
        "only whitelisted functions can be called, by their bare name",
        after.pos,
      );
    }
    return node;
  }

  nameOrCall(): Ast {
    const t = this.next();
    switch (t.text) {
      case "True":
        return { type: "const", value: true, pos: t.pos };
      case "False":
        return { type: "const", value: false, pos: t.pos };
      case "None":
        return { type: "const", value: null, pos: t.pos };
    }
    if (KEYWORDS.has(t.text)) throw this.unexpected(t);
    if (!this.isOp("(")) return { type: "name", name: t.text, pos: t.pos };
    this.next();
    return this.nested(t.pos, () => this.callArguments(t));
  }

  callArguments(fn: Token): Ast {
    const args: Ast[] = [];
    const kwargs: Array<{ name: string; value: Ast }> = [];
    while (!this.isOp(")")) {
      const t = this.peek();
      if (t.type === "name" && this.isOp("=", 1)) {
        this.next();
        this.next();
        if (kwargs.some((k) => k.name === t.text)) {
          throw new EvalError("syntax", `keyword argument repeated: ${t.text}`, t.pos);
        }
        kwargs.push({ name: t.text, value: this.test() });
      } else if (t.type === "op" && (t.text === "*" || t.text === "**")) {
        throw new EvalError("syntax", "argument unpacking is not supported", t.pos);
      } else {
        if (kwargs.length) {
          throw new EvalError("syntax", "positional argument follows keyword argument", t.pos);
        }
        args.push(this.test());
      }
      if (!this.isOp(",")) break;
      this.next();
    }
    this.expectOp(")");
    return { type: "call", name: fn.text, args, kwargs, pos: fn.pos };
  }
}

function describe(t: Token): string {
  switch (t.type) {
    case "end":
      return "end of expression";
    case "str":
      return "string";
    case "num":
      return `number ${t.text}`;
    case "name":
      return `name '${t.text}'`;
    default:
      return `'${t.text}'`;
  }
}
