/**
 * Tree-walking interpreter (floor 0, pure and synchronous): evaluates an Ast with a step budget —
 * every node costs one step, big values cost in proportion to their size — and a cap on
 * machine-facing calls, so no expression hangs or eats the memory.
 *
 * Machine-facing functions (grep, fileexists, has_package, check_tcp) are never run here: their
 * answers come from `io`, a memo filled by the caller. A call whose answer is not there yet stops
 * the walk with `IoPending`; the caller (mod.ts) runs that call outside the main thread, stores the
 * answer and walks again from the start (the walk is pure, so the replay takes the same path).
 */
import type { Ast } from "./ast.ts";
import { EvalError, type EvalLimits } from "./errors.ts";
import { bindArguments, FUNCTIONS } from "./functions.ts";
import { binaryOp, pyContains, pyEquals, pyOrder, unaryOp } from "./operators.ts";
import { bitLength, type PyValue, truthy } from "./values.ts";

/** Most calls of machine-facing functions (grep, check_tcp...) in one evaluation. */
export const MAX_IO_CALLS = 16;

/** Answers (or the EvalError they raised) of machine-facing calls already made, by `ioKey`. */
export type IoMemo = Map<string, PyValue | EvalError>;

/** A machine-facing call the walk needs before it can go on (thrown by `interpret`). */
export class IoPending {
  constructor(readonly name: string, readonly args: PyValue[], readonly key: string) {}
}

/** Memo key of one machine-facing call. */
export function ioKey(name: string, args: PyValue[]): string {
  return `${name}(${args.map((a) => typeof a === "bigint" ? `${a}n` : JSON.stringify(a)).join(",")})`;
}

interface Budget {
  steps: number;
  io: number;
  readonly maxSteps: number;
  readonly memo: IoMemo;
}

/**
 * Evaluates `ast` synchronously; throws EvalError, or IoPending when a machine-facing call's answer
 * is not in `memo` yet.
 */
export function interpret(ast: Ast, limits: EvalLimits, memo: IoMemo = new Map()): PyValue {
  const budget: Budget = { steps: 0, io: 0, maxSteps: limits.maxSteps, memo };
  try {
    return visit(ast, budget);
  } catch (err) {
    if (err instanceof EvalError || err instanceof IoPending) throw err;
    if (err instanceof RangeError) {
      throw new EvalError("limit", `evaluation exhausted resources: ${err.message}`);
    }
    throw new EvalError("runtime", `internal error: ${(err as Error)?.message ?? String(err)}`);
  }
}

function charge(b: Budget, cost: number, pos: number): void {
  b.steps += cost;
  if (b.steps > b.maxSteps) {
    throw new EvalError("limit", `evaluation needs more than ${b.maxSteps} steps`, pos);
  }
}

/** Rough work size of a value: characters, elements, machine words. */
export function sizeOf(v: PyValue): number {
  if (typeof v === "string") return v.length;
  if (typeof v === "bigint") return bitLength(v) >> 6;
  if (Array.isArray(v)) {
    let n = v.length;
    for (const x of v) n += sizeOf(x);
    return n;
  }
  return 0;
}

function weight(...values: PyValue[]): number {
  let n = 0;
  for (const v of values) n += sizeOf(v);
  return n >> 6;
}

function visit(node: Ast, b: Budget): PyValue {
  charge(b, 1, node.pos);
  try {
    return visitNode(node, b);
  } catch (err) {
    if (err instanceof EvalError) throw err.at(node.pos);
    throw err;
  }
}

function visitNode(node: Ast, b: Budget): PyValue {
  switch (node.type) {
    case "num":
    case "str":
    case "const":
      return node.value;
    case "name":
      if (Object.hasOwn(FUNCTIONS, node.name)) {
        throw new EvalError("name", `function '${node.name}' must be called: ${node.name}(...)`, node.pos);
      }
      throw new EvalError("name", `name '${node.name}' is not defined`, node.pos);
    case "tuple": {
      const items: PyValue[] = [];
      for (const it of node.items) items.push(visit(it, b));
      return items;
    }
    case "unary": {
      const v = visit(node.operand, b);
      return node.op === "not" ? !truthy(v) : unaryOp(node.op, v);
    }
    case "bool": {
      const left = visit(node.left, b);
      if (node.op === "and" ? !truthy(left) : truthy(left)) return left;
      return visit(node.right, b);
    }
    case "binary": {
      const left = visit(node.left, b);
      const right = visit(node.right, b);
      charge(b, weight(left, right), node.pos);
      const out = binaryOp(node.op, left, right);
      charge(b, weight(out), node.pos);
      return out;
    }
    case "compare":
      return compare(node, b);
    case "call":
      return call(node, b);
  }
}

function compare(node: Extract<Ast, { type: "compare" }>, b: Budget): PyValue {
  let left = visit(node.first, b);
  for (let i = 0; i < node.ops.length; i++) {
    const right = visit(node.rest[i], b);
    charge(b, weight(left, right), node.pos);
    const op = node.ops[i];
    let ok: boolean;
    try {
      if (op === "==") ok = pyEquals(left, right);
      else if (op === "!=") ok = !pyEquals(left, right);
      else if (op === "in") ok = pyContains(right, left);
      else if (op === "not in") ok = !pyContains(right, left);
      else ok = pyOrder(op, left, right);
    } catch (err) {
      if (err instanceof EvalError) throw err.at(node.rest[i].pos);
      throw err;
    }
    if (!ok) return false;
    left = right;
  }
  return true;
}

function call(node: Extract<Ast, { type: "call" }>, b: Budget): PyValue {
  if (!Object.hasOwn(FUNCTIONS, node.name)) {
    throw new EvalError(
      "name",
      `function '${node.name}' is not allowed; known functions: ${Object.keys(FUNCTIONS).sort().join(", ")}`,
      node.pos,
    );
  }
  const def = FUNCTIONS[node.name];
  const args: PyValue[] = [];
  for (const a of node.args) args.push(visit(a, b));
  const kwargs = new Map<string, PyValue>();
  for (const k of node.kwargs) kwargs.set(k.name, visit(k.value, b));
  const bound = bindArguments(node.name, def, args, kwargs);
  charge(b, weight(...bound), node.pos);
  if (def.io) {
    b.io += 1;
    if (b.io > MAX_IO_CALLS) {
      throw new EvalError("limit", `more than ${MAX_IO_CALLS} calls of file/network functions`, node.pos);
    }
    charge(b, 100, node.pos);
    const ioArgs = def.check!(bound);
    const key = ioKey(node.name, ioArgs);
    if (!b.memo.has(key)) throw new IoPending(node.name, ioArgs, key);
    const answer = b.memo.get(key)!;
    if (answer instanceof EvalError) throw answer;
    charge(b, weight(answer), node.pos);
    return answer;
  }
  const out = def.call!(bound);
  charge(b, weight(out), node.pos);
  return out;
}
