/**
 * The value model of the expression language (floor 0, pure): int = `bigint`, float = `number`,
 * bool = `boolean`, None = `null`, str = `string`, tuple = readonly array.
 */

export type PyValue = bigint | number | boolean | null | string | readonly PyValue[];

/** Python type name, for error messages. */
export function typeName(v: unknown): string {
  switch (typeof v) {
    case "bigint":
      return "int";
    case "number":
      return "float";
    case "boolean":
      return "bool";
    case "string":
      return "str";
  }
  if (v === null || v === undefined) return "NoneType";
  if (Array.isArray(v)) return "tuple";
  return "object";
}

/** Python truthiness (plain JS values too). */
export function truthy(v: unknown): boolean {
  switch (typeof v) {
    case "bigint":
      return v !== 0n;
    case "number":
      return v !== 0 && !Number.isNaN(v);
    case "boolean":
      return v;
    case "string":
      return v.length > 0;
  }
  if (v === null || v === undefined) return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/** Converts a raw value to plain JSON-safe JS (ints become numbers). */
export function toPlain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  if (typeof v === "number" && !Number.isFinite(v)) return v;
  return v;
}

/** Numeric view of int/float/bool (bool is an int in Python), or undefined. */
export function isNumeric(v: unknown): v is bigint | number | boolean {
  return typeof v === "bigint" || typeof v === "number" || typeof v === "boolean";
}

/** Int view of int/bool, or undefined. */
export function asInt(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1n : 0n;
  return undefined;
}

/** Float value of a numeric (int → float may round, like Python). */
export function asFloat(v: bigint | number | boolean): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return Number(v);
}

/** Longest string a single operation may build. */
export const MAX_STR_LEN = 1 << 20;
/** Largest int (in bits) an operation may build: `9**9**9` stops here instead of hanging. */
export const MAX_INT_BITS = 1 << 16;
/** Longest tuple an operation may build. */
export const MAX_TUPLE_LEN = 1 << 16;

/** Bit length of |x| (0 for 0). */
export function bitLength(x: bigint): number {
  if (x < 0n) x = -x;
  return x === 0n ? 0 : x.toString(2).length;
}
