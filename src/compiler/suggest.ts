/** Did-you-mean suggestions by edit distance (Damerau-Levenshtein, optimal string alignment). */

export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  const d: number[][] = Array.from({ length: n + 1 }, (_, i) => {
    const row = new Array<number>(m + 1).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j <= m; j++) d[0][j] = j;
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2][j - 2] + 1);
      d[i][j] = v;
    }
  }
  return d[n][m];
}

/** Names longer than this get no suggestion. */
const MAX_SUGGESTED_LENGTH = 100;

/**
 * The closest candidate to `name`, or null when nothing is close enough. "Close enough" allows
 * about one edit per three characters (at least one), compared case-insensitively.
 */
export function closest(name: string, candidates: Iterable<string>): string | null {
  // Nobody misspells a name this long; comparing it would cost its length squared.
  if (name.length > MAX_SUGGESTED_LENGTH) return null;
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  const limit = Math.max(1, Math.floor(name.length / 3));
  for (const c of candidates) {
    if (c === name) continue;
    // The distance is at least the difference in length: skip what cannot be close (and long junk quickly).
    if (Math.abs(c.length - name.length) > Math.min(limit, bestDistance)) continue;
    const dist = editDistance(lower, c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best !== null && bestDistance <= limit ? best : null;
}

/** "did you mean 'x'?" or undefined. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const c = closest(name, candidates);
  return c === null ? undefined : `did you mean '${c}'?`;
}
