import type { ClassSetSpec } from '../../graph/types.js';
import type { EvaluationResult } from '../events.js';

/** One summary figure: the mean Dice over some classes, and how many had a defined Dice. */
export interface GroupDice {
  name: string;
  dice: number | null;
  classes: number;
}

export interface EvaluationSummary {
  stage: string;
  /** Mean over classes (each class counts once). */
  classAverage: number | null;
  /** Mean over datasets of each dataset's class mean: the paper's fair average, since datasets
   *  differ in size and class count. */
  datasetAverage: number | null;
  /** One entry per class set or tag group (`tag:cancer`, ...) that has members in this evaluation. */
  groups: GroupDice[];
}

function mean(xs: number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Class, dataset and group averages of one evaluation (classes named `dataset.class` in sets). */
export function summarizeEvaluation(result: EvaluationResult, classSets: ClassSetSpec[]): EvaluationSummary {
  const defined = result.classes.filter((c): c is typeof c & { dice: number } => c.dice !== null);
  const byDataset = new Map<string, number[]>();
  for (const c of defined) byDataset.set(c.dataset, [...(byDataset.get(c.dataset) ?? []), c.dice]);
  const datasetMeans = [...byDataset.values()].map((d) => mean(d) as number);
  const groups: GroupDice[] = [];
  for (const set of classSets) {
    const members = new Set(set.classes);
    const inSet = result.classes.filter((c) => members.has(`${c.dataset}.${c.name}`));
    if (inSet.length === 0) continue;
    const dice = inSet.map((c) => c.dice).filter((d): d is number => d !== null);
    groups.push({ name: set.name, dice: mean(dice), classes: dice.length });
  }
  return { stage: result.stage, classAverage: mean(defined.map((c) => c.dice)), datasetAverage: mean(datasetMeans), groups };
}
