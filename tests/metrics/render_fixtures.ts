/** Series sources shared by the render tests. */
import { matchNames, type SeriesSource } from "../../lib/metrics/mod.ts";

/** One series `y.h`: a year of hourly points (8 760, valued 0, 1, 2...) from epoch 0. */
export const HOURLY_YEAR: SeriesSource = {
  fetch: (pattern) =>
    Promise.resolve(
      matchNames(pattern, ["y.h"]).map((name) => ({
        name,
        start: 0,
        end: 8760 * 3600,
        step: 3600,
        values: Array.from({ length: 8760 }, (_, i) => i),
      })),
    ),
};
