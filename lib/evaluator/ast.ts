/**
 * Syntax tree of the expression language. `pos` is the 0-based offset of the node's first token.
 */

export type BinaryOp = "+" | "-" | "*" | "/" | "//" | "%" | "**" | "^";
export type CompareOp = "==" | "!=" | "<" | ">" | "<=" | ">=" | "in" | "not in";

export type Ast =
  | { type: "num"; value: bigint | number; pos: number }
  | { type: "str"; value: string; pos: number }
  | { type: "const"; value: boolean | null; pos: number }
  | { type: "name"; name: string; pos: number }
  | { type: "tuple"; items: Ast[]; pos: number }
  | { type: "unary"; op: "-" | "+" | "not"; operand: Ast; pos: number }
  | { type: "binary"; op: BinaryOp; left: Ast; right: Ast; pos: number }
  | { type: "bool"; op: "and" | "or"; left: Ast; right: Ast; pos: number }
  | { type: "compare"; first: Ast; ops: CompareOp[]; rest: Ast[]; pos: number }
  | { type: "call"; name: string; args: Ast[]; kwargs: Array<{ name: string; value: Ast }>; pos: number };
