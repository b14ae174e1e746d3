/**
 * libc through `Deno.dlopen`, for the few system calls Deno has no API for (socket options,
 * batched datagrams). Tries glibc's name, then musl's, then the generic one; null where none opens
 * (not Linux, no FFI permission, another C library).
 *
 * ```ts
 * const c = openLibc({ getpid: { parameters: [], result: "i32" } } as const);
 * c?.getpid();
 * ```
 */
const NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | null {
  if (Deno.build.os !== "linux") return null;
  for (const name of NAMES) {
    try {
      return Deno.dlopen(name, symbols).symbols;
    } catch { /* try the next name */ }
  }
  return null;
}
