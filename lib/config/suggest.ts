/**
 * "Did you mean": the known name closest to a misspelt one (optimal string alignment distance:
 * insertions, deletions, substitutions and swaps of two neighbours each cost 1).
 */

/** Edit distance between `a` and `b`, giving up (returning `max + 1`) once it exceeds `max`. */
export function editDistance(a: string, b: string, max = 2): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0][j] = j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      }
      rows[i][j] = d;
    }
    if (i > 0 && Math.min(...rows[i]) > max) return max + 1;
  }
  return rows[a.length][b.length];
}

/**
 * The known name a key was probably meant to be, or undefined. Short keys get less slack (one
 * edit up to 4 characters, two above) so free data like `db` is not mistaken for `dns`.
 */
export function closestName(key: string, known: Iterable<string>): string | undefined {
  const k = key.toLowerCase();
  const slack = k.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestD = slack + 1;
  for (const name of known) {
    if (name === key) return undefined;
    const d = editDistance(k, name.toLowerCase(), slack);
    if (d < bestD) {
      best = name;
      bestD = d;
    }
  }
  return best;
}
