/**
 * Jinja2's `for`: the loop filter (`for n in nodes if n.alive`), `recursive` with `loop(children)`,
 * the `loop` variable (`loop.depth`, `cycle`, `changed`...), a body that is its own scope on each
 * iteration, a dict walked by its keys, tuple targets unpacked, `none` or a number refused as not
 * iterable. Parsed into a JinjaFor node and compiled here (installed by installStatements).
 */
import { pyNamed, pyType } from "./pyvalues.ts";
import { PyFloat } from "./pyfloat.ts";
import {
  bindTarget,
  type Compiler,
  type Frame,
  type Hooks,
  lookupOf,
  type Node,
  type Parser,
} from "./statements_scope.ts";
import { parseTupleTail, targetOf } from "./jinja_tuples.ts";

interface ForNode extends Node {
  name: Node;
  arr: Node;
  body: Node;
  else_: Node | null;
  test: Node | null;
  recursive: boolean;
}

/**
 * What one render may spend in loops: iterations, and time (checked every 1 024 iterations).
 * Rendering is synchronous on the agent's thread, so a runaway template (nested loops over large
 * ranges) would hold gossip, checks and the API; Jinja2 has no such limit.
 */
export interface RenderBudget {
  maxLoopSteps: number;
  maxMs: number;
}

export const DEFAULT_RENDER_BUDGET: RenderBudget = { maxLoopSteps: 1_000_000, maxMs: 2_000 };

let budget = DEFAULT_RENDER_BUDGET;
let steps = 0;
let started = 0;

/** Starts counting a render against `b` (renders are synchronous: one counts at a time). */
export function beginRender(b: RenderBudget = DEFAULT_RENDER_BUDGET): void {
  budget = b;
  steps = 0;
  started = performance.now();
}

function step(): void {
  if (++steps > budget.maxLoopSteps) {
    throw new Error(`loops ran more than ${budget.maxLoopSteps} iterations in one render: stopped`);
  }
  if ((steps & 1023) === 0 && performance.now() - started > budget.maxMs) {
    throw new Error(`the render ran longer than ${budget.maxMs} ms (${steps} loop iterations): stopped`);
  }
}

/** A loop's iterable as Python iterates it: a list's items, a string's characters, a dict's keys. */
function iterItems(v: unknown): unknown[] {
  if (v === undefined) return []; // Jinja2's Undefined iterates as empty
  if (Array.isArray(v)) return [...v];
  if (typeof v === "string" || v instanceof String) return [...String(v)];
  if (v instanceof Map) return [...v.keys()];
  if (v !== null && typeof v === "object" && !(v instanceof PyFloat)) {
    if (Symbol.iterator in v) return [...(v as Iterable<unknown>)];
    return Object.keys(v);
  }
  throw new Error(`TypeError: '${pyType(v)}' object is not iterable`);
}

/** The per-run state of a loop: its items (after the loop filter) and what `loop` tells about them. */
class LoopRun {
  items: unknown[];
  #last: string | undefined = undefined;
  constructor(
    items: unknown,
    readonly depth0: number,
    readonly recurse: ((items: unknown, depth0: number) => string) | null,
  ) {
    this.items = iterItems(items);
  }

  /** The `loop` variable of iteration `i`; a function that renders the loop again when it is recursive. */
  at(i: number): Record<string, unknown> {
    step();
    const items = this.items, n = items.length;
    const recurse = this.recurse, depth0 = this.depth0;
    const self = `<LoopContext ${i + 1}/${n}>`;
    const method = (name: string, fn: (...a: unknown[]) => unknown) =>
      pyNamed(fn, `<bound method LoopContext.${name} of ${self}>`);
    const vars: Record<string, unknown> = {
      index: i + 1,
      index0: i,
      revindex: n - i,
      revindex0: n - i - 1,
      first: i === 0,
      last: i === n - 1,
      length: n,
      depth: depth0 + 1,
      depth0,
      previtem: i > 0 ? items[i - 1] : undefined,
      nextitem: i + 1 < n ? items[i + 1] : undefined,
      cycle: method("cycle", (...args: unknown[]) => {
        if (!args.length) throw new Error("TypeError: no items for cycling given");
        return args[i % args.length];
      }),
      // true on the first call and whenever the values differ from the previous call's
      changed: method("changed", (...values: unknown[]) => {
        const key = JSON.stringify(values);
        const changed = this.#last !== key;
        this.#last = key;
        return changed;
      }),
    };
    if (!recurse) return pyNamed(vars, self);
    const call = (sub: unknown) => recurse(sub, depth0 + 1);
    for (const [k, v] of Object.entries(vars)) Object.defineProperty(call, k, { value: v, enumerable: true });
    return pyNamed(call, self) as unknown as Record<string, unknown>;
  }
}

function compileFor(this: Compiler, node: ForNode, frame: Frame): void {
  const arr = this._tmpid(), run = this._tmpid(), fn = this._tmpid(), i = this._tmpid();
  const items = this._tmpid(), depth = this._tmpid();
  this._emit(`var ${arr} = `);
  this._compileExpression(node.arr, frame);
  this._emitLine(";");
  // the loop is a function of its items, so that a recursive loop can call it again
  this._emitLine(`var ${fn} = function (${items}, ${depth}) {`);
  this._emitLine(
    `var ${run} = new runtime.JinjaLoopRun(${items}, ${depth}, ${node.recursive ? fn : "null"});`,
  );
  if (node.test) {
    const item = this._tmpid(), ok = this._tmpid();
    const scope = frame.push(true);
    this._emitLine(`${run}.items = ${run}.items.filter(function (${item}) {`);
    this._emitLine("frame = frame.push(true);");
    bindTarget(this, node.name, item, scope);
    this._emit(`var ${ok} = runtime.jinjaTruthy(`);
    this._compileExpression(node.test, scope);
    this._emitLine(");");
    this._emitLine(`frame = frame.pop();\nreturn ${ok};\n});`);
  }
  const buffer = this._pushBuffer();
  this._emitLine("");
  this._emitLine(`for (var ${i} = 0; ${i} < ${run}.items.length; ${i}++) {`);
  this._emitLine("frame = frame.push(true);");
  const scope = frame.push(true);
  bindTarget(this, node.name, `${run}.items[${i}]`, scope);
  this._emitLine(`frame.set("loop", ${run}.at(${i}));`);
  scope.set("loop", lookupOf("loop"));
  this._withScopedSyntax(() => this.compile(node.body, scope));
  this._emitLine("frame = frame.pop();");
  this._emitLine("}");
  if (node.else_) {
    const elseScope = frame.push(true);
    this._emitLine(`if (!${run}.items.length) {`);
    this._emitLine("frame = frame.push(true);");
    this._withScopedSyntax(() => this.compile(node.else_, elseScope));
    this._emitLine("frame = frame.pop();");
    this._emitLine("}");
  }
  this._emitLine(`return ${buffer};`);
  this._popBuffer();
  this._emitLine("};");
  this._emitLine(`${this.buffer} += ${fn}(${arr}, 0);`);
}

/** Installs `for`: its runtime loop state, node type, parser and compiler. */
export function installFor(h: Hooks): void {
  const { nodes, lexer, runtime, compiler } = h;
  runtime.JinjaLoopRun = LoopRun;
  const JinjaFor = nodes.For.extend("JinjaFor", {
    fields: ["arr", "name", "body", "else_", "test", "recursive"],
  });
  // the transformer rebuilds a node by its type's name
  nodes.JinjaFor = JinjaFor;

  const proto = h.parser;
  const parseFor = proto.parseFor;
  proto.parseFor = function (this: Parser) {
    const tok = this.peekToken();
    if (tok.value !== "for") return parseFor.call(this);
    this.skipSymbol("for");
    const node = new JinjaFor(tok.lineno, tok.colno) as ForNode;
    // `for x`, `for k, v`, `for (a, b)`, `for k, (a, b)` (jinja_tuples.ts)
    node.name = targetOf(this, this.parsePrimary(), "for");
    if (this.peekToken().type === lexer.TOKEN_COMMA) {
      const first = node.name;
      const names = [first];
      while (this.skip(lexer.TOKEN_COMMA)) names.push(targetOf(this, this.parsePrimary(), "for"));
      node.name = new nodes.Array(first.lineno, first.colno, names);
    }
    if (!this.skipSymbol("in")) this.fail('for: expected "in"', tok.lineno, tok.colno);
    // no inline `if` in the iterable: an `if` after it filters the loop; `for x in a, b` is a tuple
    node.arr = parseTupleTail(this, this.parseOr(), () => this.parseOr(), ["recursive"]);
    node.test = this.skipSymbol("if") ? this.parseExpression() : null;
    node.recursive = this.skipSymbol("recursive");
    this.advanceAfterBlockEnd("for");
    node.body = this.parseUntilBlocks("endfor", "else");
    node.else_ = null;
    if (this.skipSymbol("else")) {
      this.advanceAfterBlockEnd("else");
      node.else_ = this.parseUntilBlocks("endfor");
    }
    this.advanceAfterBlockEnd();
    return node;
  };
  compiler.compileJinjaFor = compileFor;
}
