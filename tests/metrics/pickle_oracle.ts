/**
 * Helpers of the pickle tests: CPython as the oracle (pickle_oracle.py run by Debian's python3, as
 * carbon-relay runs), byte builders, and kunai's and carbon's views of a frame's points.
 */
import assert from "node:assert/strict";
import { PickleError, PyTuple, type PyValue } from "../../lib/metrics/pickle.ts";
import { pickledPoints } from "../../lib/metrics/graphite_pickle.ts";
import { checkGraphitePoint } from "../../lib/metrics/graphite_parse.ts";
export const ORACLE = new URL("./pickle_oracle.py", import.meta.url).pathname;

export const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
export const unhex = (h: string) => new Uint8Array(h.match(/../g)?.map((x) => parseInt(x, 16)) ?? []);
export const bytes = (...parts: Array<string | number[] | Uint8Array>) => {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "string") { for (const c of p) out.push(c.charCodeAt(0)); }
    else out.push(...p);
  }
  return new Uint8Array(out);
};
export const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
export const u64le = (n: bigint) => Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));

export interface Loaded {
  ok?: unknown;
  err?: string;
  points?: Array<[string, string, string] | null> | null;
  /** What carbon's own receiver passed on (a last ["EXC", name] where it stopped), if asked and installed. */
  carbon?: string[][];
}

/** Runs the oracle (Debian's CPython, as carbon-relay uses) on one request. */
export async function oracle<T>(req: unknown): Promise<T> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: [ORACLE],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(req)));
  await w.close();
  const out = await child.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}

export const dumps = (items: Array<[string, number]>) => oracle<string[]>({ dumps: items });
export const loads = (pickles: Uint8Array[], carbon = false) =>
  oracle<Loaded[]>({ loads: pickles.map(hex), carbon });

export function floatBits(x: number): string {
  if (Number.isNaN(x)) return "nan";
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x, false);
  return hex(new Uint8Array(dv.buffer));
}

export function bitsFloat(h: string): number {
  if (h === "nan") return NaN;
  return new DataView(unhex(h).buffer).getFloat64(0, false);
}

/** The oracle's description of a value (pickle_oracle.py's describe). */
export function describe(v: PyValue, depth = 0): unknown {
  if (depth > 40) return ["deep"];
  if (v === null) return ["none"];
  if (typeof v === "boolean") return ["bool", v];
  if (typeof v === "bigint") return ["int", v.toString()];
  if (typeof v === "number") return ["float", floatBits(v)];
  if (typeof v === "string") return ["str", v];
  if (v instanceof Uint8Array) return ["bytes", hex(v)];
  if (v instanceof PyTuple) return ["tuple", v.items.map((x) => describe(x, depth + 1))];
  return ["list", v.map((x) => describe(x, depth + 1))];
}

/** kunai's view of a frame: each entry a point or "bad" (in order), or the frame's refusal. */
export function kunaiPoints(
  frame: Uint8Array,
  now: number,
): Array<[string, number, number] | "bad"> | string {
  const out: Array<[string, number, number] | "bad"> = [];
  try {
    pickledPoints(frame, now, (n, v, t) => out.push([n, v, t]), () => out.push("bad"));
  } catch (err) {
    assert.ok(err instanceof PickleError, String(err));
    return err.message;
  }
  return out;
}

/** What kunai must make of carbon's view of the entries: carbon's floats, then kunai's checks. */
export function expectedPoints(carbon: Array<[string, string, string] | null>, now: number) {
  return carbon.map((e) => {
    if (!e) return "bad";
    const ts = bitsFloat(e[1]), value = bitsFloat(e[2]);
    const p = checkGraphitePoint(e[0], value, Math.trunc(ts) === -1 ? now : ts);
    return typeof p === "string" ? "bad" : [p.name, p.value, p.ts];
  });
}

/** A frame as carbon sends it: 4-byte big-endian length, then the pickle. */
export function frame(p: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + p.length);
  new DataView(out.buffer).setUint32(0, p.length, false);
  out.set(p, 4);
  return out;
}

/** A Python int literal of a bigint. */
export const N = (x: bigint) => x.toString();
