/**
 * Tree-walking interpreter (floor 0 apart from the I/O functions it may call): evaluates an Ast with
 * a step budget — every node costs one step, big values cost in proportion to their size — and a cap
 * on machine-facing calls, so no expression hangs or eats the memory.
 */
import type { Ast } from "./ast.ts";
import { EvalError, type EvalLimits } from "./errors.ts";
import { bindArguments, FUNCTIONS } from "./functions.ts";
import { binaryOp, pyContains, pyEquals, pyOrder, unaryOp } from "./operators.ts";
import { bitLength, type PyValue, truthy } from "./values.ts";

/** Most calls of machine-facing functions (grep, check_tcp...) in one evaluation. */
export const MAX_IO_CALLS = 16;

interface Budget {
  steps: number;
  io: number;
  readonly maxSteps: number;
}

/** Evaluates `ast`; rejects only with EvalError. */
export async function interpret(ast: Ast, limits: EvalLimits): Promise<PyValue> {
  const budget: Budget = { steps: 0, io: 0, maxSteps: limits.maxSteps };
  try {
    return await visit(ast, budget);
  } catch (err) {
    if (err instanceof EvalError) throw err;
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

async function visit(node: Ast, b: Budget): Promise<PyValue> {
  charge(b, 1, node.pos);
  try {
    return await visitNode(node, b);
  } catch (err) {
    if (err instanceof EvalError) throw err.at(node.pos);
    throw err;
  }
}

async function visitNode(node: Ast, b: Budget): Promise<PyValue> {
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
      for (const it of node.items) items.push(await visit(it, b));
      return items;
    }
    case "unary": {
      const v = await visit(node.operand, b);
      return node.op === "not" ? !truthy(v) : unaryOp(node.op, v);
    }
    case "bool": {
      const left = await visit(node.left, b);
      if (node.op === "and" ? !truthy(left) : truthy(left)) return left;
      return await visit(node.right, b);
    }
    case "binary": {
      const left = await visit(node.left, b);
      const right = await visit(node.right, b);
      charge(b, weight(left, right), node.pos);
      const out = binaryOp(node.op, left, right);
      charge(b, weight(out), node.pos);
      return out;
    }
    case "compare":
      return await compare(node, b);
    case "call":
      return await call(node, b);
  }
}

async function compare(node: Extract<Ast, { type: "compare" }>, b: Budget): Promise<PyValue> {
  let left = await visit(node.first, b);
  for (let i = 0; i < node.ops.length; i++) {
    const right = await visit(node.rest[i], b);
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

async function call(node: Extract<Ast, { type: "call" }>, b: Budget): Promise<PyValue> {
  if (!Object.hasOwn(FUNCTIONS, node.name)) {
    throw new EvalError(
      "name",
      `function '${node.name}' is not allowed; known functions: ${Object.keys(FUNCTIONS).sort().join(", ")}`,
      node.pos,
    );
  }
  const def = FUNCTIONS[node.name];
  const args: PyValue[] = [];
  for (const a of node.args) args.push(await visit(a, b));
  const kwargs = new Map<string, PyValue>();
  for (const k of node.kwargs) kwargs.set(k.name, await visit(k.value, b));
  const bound = bindArguments(node.name, def, args, kwargs);
  charge(b, weight(...bound), node.pos);
  if (def.io) {
    b.io += 1;
    if (b.io > MAX_IO_CALLS) {
      throw new EvalError("limit", `more than ${MAX_IO_CALLS} calls of file/network functions`, node.pos);
    }
    charge(b, 100, node.pos);
  }
  const out = await def.call(bound);
  charge(b, weight(out), node.pos);
  return out;
}
