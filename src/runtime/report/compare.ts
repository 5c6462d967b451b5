/**
 * Paired comparison of two runs' evaluations (multi-dataset vs per-dataset, pretrained vs from
 * scratch, ...): per class, over the cases both evaluated with a defined Dice, the mean paired
 * difference (other - baseline), its standard error, the cases improved / worse / tied, and the
 * two-sided Wilcoxon signed-rank p-value (exact up to 20 pairs, normal approximation beyond).
 */
import type { EvaluationResult } from '../events.js';
import { type RunData, describeRun } from './load.js';

export interface PairedClass {
  dataset: string;
  name: string;
  /** Paired cases (both Dice defined). */
  n: number;
  baseline: number | null;
  other: number | null;
  diff: number | null;
  se: number | null;
  better: number;
  worse: number;
  ties: number;
  p: number | null;
}

export interface RunComparison {
  baseline: string;
  other: string;
  classes: PairedClass[];
  /** Mean over classes of the per-class differences, and over datasets of their class means. */
  classAverageDiff: number | null;
  datasetAverageDiff: number | null;
}

function mean(xs: number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Standard normal CDF (Abramowitz and Stegun 26.2.17, |error| < 7.5e-8). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989422804014327 * Math.exp((-z * z) / 2);
  const p = d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return z > 0 ? 1 - p : p;
}

/** Two-sided Wilcoxon signed-rank p-value of paired differences (zeros dropped; average ranks for ties). */
export function wilcoxonSignedRank(diffs: readonly number[]): number | null {
  const d = diffs.filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return null;
  const order = d.map((x, i) => [Math.abs(x), i] as const).sort((a, b) => a[0] - b[0]);
  const rank = new Array<number>(n);
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && order[j + 1][0] === order[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) rank[order[k][1]] = r;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const wPlus = d.reduce((s, x, i) => (x > 0 ? s + rank[i] : s), 0);
  const total = (n * (n + 1)) / 2;
  if (n <= 20) {
    // exact: distribution of the sum of a random subset of the (doubled, integer) ranks
    const r2 = rank.map((r) => Math.round(2 * r));
    const max = r2.reduce((a, b) => a + b, 0);
    let counts = new Float64Array(max + 1);
    counts[0] = 1;
    for (const r of r2) {
      const next = new Float64Array(max + 1);
      for (let s = 0; s <= max; s++) {
        if (counts[s] === 0) continue;
        next[s] += counts[s];
        next[s + r] += counts[s];
      }
      counts = next;
    }
    const all = 2 ** n;
    const w2 = Math.round(2 * wPlus);
    const lo = Math.min(w2, max - w2);
    let tail = 0;
    for (let s = 0; s <= lo; s++) tail += counts[s];
    return Math.min(1, (2 * tail) / all);
  }
  const mu = total / 2;
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  const z = Math.abs(wPlus - mu) / sigma; // no continuity correction, as scipy.stats.wilcoxon by default
  return Math.min(1, 2 * (1 - normalCdf(z)));
}

/** Paired comparison of `other` against `baseline` on the classes (dataset.class) both evaluated. */
export function compareEvaluations(baselineName: string, baseline: EvaluationResult, otherName: string, other: EvaluationResult): RunComparison {
  const classes: PairedClass[] = [];
  for (const b of baseline.classes) {
    const o = other.classes.find((c) => c.dataset === b.dataset && c.name === b.name);
    if (!o) continue;
    const pairs: [number, number][] = [];
    for (const [id, bv] of Object.entries(b.perCase)) {
      const ov = o.perCase[id];
      if (bv !== null && ov !== null && ov !== undefined) pairs.push([bv, ov]);
    }
    const diffs = pairs.map(([x, y]) => y - x);
    const m = mean(diffs);
    const sd = diffs.length > 1 && m !== null ? Math.sqrt(diffs.reduce((s, x) => s + (x - m) ** 2, 0) / (diffs.length - 1)) : null;
    classes.push({
      dataset: b.dataset,
      name: b.name,
      n: pairs.length,
      baseline: mean(pairs.map((p) => p[0])),
      other: mean(pairs.map((p) => p[1])),
      diff: m,
      se: sd === null ? null : sd / Math.sqrt(diffs.length),
      better: diffs.filter((x) => x > 0).length,
      worse: diffs.filter((x) => x < 0).length,
      ties: diffs.filter((x) => x === 0).length,
      p: wilcoxonSignedRank(diffs),
    });
  }
  const defined = classes.filter((c): c is PairedClass & { diff: number } => c.diff !== null);
  const byDataset = new Map<string, number[]>();
  for (const c of defined) byDataset.set(c.dataset, [...(byDataset.get(c.dataset) ?? []), c.diff]);
  return {
    baseline: baselineName,
    other: otherName,
    classes,
    classAverageDiff: mean(defined.map((c) => c.diff)),
    datasetAverageDiff: mean([...byDataset.values()].map((v) => mean(v) as number)),
  };
}

/** Every further run against the first (their last evaluations), for the report. */
export function compareRuns(runs: readonly RunData[]): RunComparison[] {
  const out: RunComparison[] = [];
  const base = runs[0];
  const be = base?.metrics?.evaluations.at(-1);
  if (!be) return out;
  for (const other of runs.slice(1)) {
    const oe = other.metrics?.evaluations.at(-1);
    if (oe) out.push(compareEvaluations(describeRun(base), be, describeRun(other), oe));
  }
  return out;
}
