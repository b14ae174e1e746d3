/**
 * The probe schedule as a pure function (prober.ts holds the ring and the clock).
 */

/**
 * Index in a ring of `n` members of the one that the member at index `self` probes in probe
 * slot `slot`: `1 + slot mod (n - 1)` places after itself. In one slot every member uses the
 * same shift, so no two members probe the same one and every member is probed once; over any
 * `n - 1` consecutive slots a member probes each of the others once.
 *
 * ```ts
 * slotTarget(4, 0, 0); // 1
 * slotTarget(4, 3, 1); // 1
 * ```
 */
export function slotTarget(n: number, self: number, slot: number): number {
  if (n < 2) return self;
  const m = n - 1;
  const shift = 1 + (((slot % m) + m) % m);
  return (self + shift) % n;
}
