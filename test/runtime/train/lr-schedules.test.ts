// The learning rate the trainer sets at every epoch of the stdlib's fine-tuning schedules, compiled
// from the .mt sources as `mtc run` compiles them, against the laws written out by hand.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileProgram, loadProgram } from '../../../src/compiler/index.js';
import type { RuntimeGraph, ScheduleSpec } from '../../../src/graph/types.js';
import { scheduleLearningRate } from '../../../src/runtime/train/lr.js';
import { phaseOptimizerSpec } from '../../../src/runtime/train/optimizer.js';

async function compile(file: string, experiment?: string): Promise<RuntimeGraph> {
  const { graph, diagnostics } = compileProgram(await loadProgram(file), experiment ? { experiment } : {});
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  if (!graph) throw new Error('not compiled');
  return graph;
}

function finetuneSchedule(graph: RuntimeGraph): ScheduleSpec {
  const stage = graph.stages.find((s) => s.kind === 'finetune');
  if (!stage || stage.kind !== 'finetune') throw new Error('no finetune stage');
  return stage.schedule;
}

const dir = mkdtempSync(join(tmpdir(), 'mt-lr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("stdlib's multitalent_finetune (heads 10, warm-up 50, then poly), as experiments/kits_finetune.mt compiles it", () => {
  it('sets the hand-written law at every one of its 1000 epochs', async () => {
    const s = finetuneSchedule(await compile('experiments/kits_finetune.mt'));
    expect(s.name).toBe('multitalent_finetune');
    expect(s.epochs).toBe(1000);
    expect(s.phases.map((p) => [p.trains, p.epochs])).toEqual([['heads', 10], ['all', 50], ['all', 940]]);
    for (let e = 0; e < 1000; e++) {
      let want: number;
      if (e < 10) want = (0.01 * (e + 1)) / 10; // heads only, linear from 0: 0.001 ... 0.01
      else if (e < 60) want = (0.01 * (e - 10 + 1)) / 50; // whole network, linear from 0: 0.0002 ... 0.01
      else want = 0.01 * (1 - (e - 60) / 940) ** 0.9; // nnU-Net's poly over the remaining 940 epochs
      expect(scheduleLearningRate(s, e), `epoch ${e}`).toBeCloseTo(want, 15);
    }
    expect(() => scheduleLearningRate(s, 1000)).toThrow(RangeError);
    // SGD throughout (the paper names no other optimiser), one optimiser for every phase.
    for (let p = 0; p < 3; p++) expect(phaseOptimizerSpec(s, p)).toEqual({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
  });
});

describe("stdlib's multitalent_finetune_adamw_heads (the authors' code)", () => {
  it('runs AdamW (AMSGrad) up to 5e-4 on the heads, then SGD: warm-up to 1e-2 and 1000 poly epochs', async () => {
    const file = join(dir, 'code.mt');
    writeFileSync(
      file,
      `import "std/schedules"
dataset a { root "A"  classes { x [1] } }
dataset b { root "B"  classes { y [1] } }
architecture net { kind unet  patch [32, 32, 32]  features [8, 16] }
schedule pre { epochs 1  iterations 1 }
experiment source { datasets [a]  architecture net  schedule pre  spacing [2, 2, 2] }
experiment target { pretrained source  datasets [b]  schedule multitalent_finetune_adamw_heads }
`,
    );
    const s = finetuneSchedule(await compile(file));
    expect(s.epochs).toBe(1060);
    for (let e = 0; e < 1060; e++) {
      let want: number;
      if (e < 10) want = (5e-4 * (e + 1)) / 10;
      else if (e < 60) want = (0.01 * (e - 10 + 1)) / 50;
      else want = 0.01 * (1 - (e - 60) / 1000) ** 0.9;
      expect(scheduleLearningRate(s, e), `epoch ${e}`).toBeCloseTo(want, 15);
    }
    expect(phaseOptimizerSpec(s, 0)).toEqual({ kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 3e-5, amsgrad: true });
    expect(phaseOptimizerSpec(s, 1)).toEqual({ kind: 'sgd', momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
    expect(phaseOptimizerSpec(s, 2)).toEqual(phaseOptimizerSpec(s, 1));
  });
});
