/**
 * `prctl(PR_SET_DUMPABLE, 0)`: the agent's `/proc/<pid>/environ`, `mem` and `fd` become root's, so a
 * plugin or command running as the agent's own user (an agent not started as root runs them as
 * itself) cannot read the key and token from its environment or memory, nor attach a debugger; core
 * dumps are off too. Linux only (null elsewhere, or without libc through FFI).
 */
import { openLibc } from "../libc.ts";

const PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4;

let libc: { prctl(option: number, a: bigint, b: bigint, c: bigint, d: bigint): number } | null | undefined;

function prctl(): typeof libc {
  if (libc === undefined) {
    libc = openLibc({ prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" } } as const);
  }
  return libc;
}

/** Makes this process non-dumpable; false when it cannot (not Linux, no libc). */
export function makeNotDumpable(): boolean {
  const c = prctl();
  return c ? c.prctl(PR_SET_DUMPABLE, 0n, 0n, 0n, 0n) === 0 : false;
}

/** Whether this process is dumpable now; null when it cannot be asked. */
export function isDumpable(): boolean | null {
  const c = prctl();
  if (!c) return null;
  const r = c.prctl(PR_GET_DUMPABLE, 0n, 0n, 0n, 0n);
  return r < 0 ? null : r !== 0;
}
