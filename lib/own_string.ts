/**
 * A copy of `s` that does not keep alive the string it was cut from. V8 makes a substring of 13
 * characters or more a view into its parent: a metric name cut from a 64 KB packet and kept as a
 * map key keeps the whole packet (5 000 such names held 313 MB of heap, against 3 MB as copies).
 * For the strings that outlive their packet: new map keys.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : JSON.parse(JSON.stringify(s)) as string;
}
