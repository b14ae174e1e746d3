/**
 * Reads of this node's store for `/render`: the names a path pattern matches (tagged, glob or a
 * plain name), then their series, bounded in series per path and in points read.
 */
import type { FetchedSeries, TimeSeriesStore } from "./ts_store.ts";
import { matchNames, PathPattern } from "./glob.ts";
import { seriesByTagNames } from "./tags.ts";
import { RenderError } from "./render.ts";
import { MAX_RENDER_POINTS } from "./render_functions.ts";

/** Most series one path of a `/render` target may match. */
export const MAX_SERIES_PER_PATH = 20_000;

/** Series of this node's store matching a path pattern (pending points written first). */
export function fetchLocal(
  store: TimeSeriesStore,
  pattern: string,
  from: number,
  until: number,
): FetchedSeries[] {
  store.flush();
  const names = seriesByTagNames(pattern, store.names()) ?? matchLocal(store, pattern);
  if (names.length > MAX_SERIES_PER_PATH) {
    throw new RenderError(`'${pattern}' matches ${names.length} series, more than ${MAX_SERIES_PER_PATH}`);
  }
  // series by series, so a wide pattern over a long range stops before it has spent the memory
  const out: FetchedSeries[] = [];
  let total = 0;
  for (const n of names) {
    const f = store.fetch(n, from, until);
    total += f.values.length;
    if (total > MAX_RENDER_POINTS) {
      throw new RenderError(
        `'${pattern}' reads more than ${MAX_RENDER_POINTS} points (${
          out.length + 1
        } of ${names.length} series so far): narrow the paths or the time range`,
      );
    }
    out.push(f);
  }
  return out;
}

/** Names of this node matching a path pattern (a plain name looked up directly). */
function matchLocal(store: TimeSeriesStore, pattern: string): string[] {
  // a tagged path names one series exactly, as in graphite
  if (pattern.includes(";") || new PathPattern(pattern).literal) {
    return store.has(pattern) ? [pattern] : [];
  }
  return matchNames(pattern, store.names());
}
