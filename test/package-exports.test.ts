import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The package's "exports" must let code inside the checkout import it by name (Node self-reference).
describe("import from 'multitalent'", () => {
  // Needs dist/ (built by `npm ci` through prepare, or `npm run build`).
  it('resolves to the built library and compiles the quickstart', () => {
    const script = `
      import { loadProgram, compileProgram, hasErrors } from 'multitalent';
      const { graph, diagnostics } = compileProgram(await loadProgram('experiments/quickstart.mt'));
      console.log(JSON.stringify({ errors: hasErrors(diagnostics), stages: graph.stages.map((s) => s.kind) }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ errors: false, stages: ['prepare', 'prepare', 'prepare', 'prepare', 'prepare', 'preprocess', 'train', 'preprocess', 'finetune', 'evaluate', 'report'] });
  });
});

describe("import { multiTalentLoss } from 'multitalent'", () => {
  /** Paper eq. 2 by hand: logits z[b][i][c], targets g[b][i][c], annotated m[b][c]; batch or per-case Dice. */
  function eq2(z: number[][][], g: number[][][], m: number[][], batchDice: boolean): number {
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    let loss = 0;
    for (let c = 0; c < m[0].length; c++) {
      if (!m.some((row) => row[c] > 0)) continue;
      let bce = 0;
      let num = 0;
      let den = 0;
      let perCase = 0;
      z.forEach((zb, b) => {
        if (!m[b][c]) return;
        let caseBce = 0;
        let pg = 0;
        let ps = 0;
        let gs = 0;
        zb.forEach((zi, i) => {
          const p = sig(zi[c]);
          const t = g[b][i][c];
          caseBce -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
          pg += p * t;
          ps += p;
          gs += t;
        });
        bce += caseBce / zb.length;
        num += 2 * pg;
        den += ps + gs;
        perCase += (2 * pg) / Math.max(ps + gs, 1e-7);
      });
      loss += bce - (batchDice ? num / Math.max(den, 1e-7) : perCase);
    }
    return loss;
  }

  it('takes [B,D,H,W,C] logits and targets and a [B,C] annotated mask, and returns eq. 2 as a scalar tensor', () => {
    const z = [[[0.3, -1.2], [2.0, 0.4], [-0.5, 1.1]], [[1.5, -0.2], [-2.2, 0.9], [0.1, 0.0]], [[0.7, 0.8], [-0.3, -1.9], [1.2, 2.4]]];
    const g = [[[1, 0], [1, 1], [0, 1]], [[0, 1], [0, 0], [1, 1]], [[1, 1], [0, 1], [1, 0]]];
    const m = [[1, 0], [1, 0], [0, 1]];
    const script = `
      import * as tf from '@tensorflow/tfjs';
      import { multiTalentLoss } from 'multitalent';
      const [z, g, m] = ${JSON.stringify([z, g, m])};
      const logits = tf.tensor5d(z.flat(2), [3, 1, 1, 3, 2]);
      const targets = tf.tensor5d(g.flat(2), [3, 1, 1, 3, 2]);
      const annotated = tf.tensor2d(m.flat(), [3, 2]);
      const loss = multiTalentLoss(logits, targets, annotated);
      const perCase = multiTalentLoss(logits, targets, annotated, { batchDice: false });
      const grad = tf.grad((x) => multiTalentLoss(x, targets, annotated))(logits);
      console.log(JSON.stringify({ rank: loss.rank, isTensor: loss instanceof tf.Tensor, value: loss.dataSync()[0], perCase: perCase.dataSync()[0], grad: Array.from(grad.dataSync()) }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as {
      rank: number;
      isTensor: boolean;
      value: number;
      perCase: number;
      grad: number[];
    };
    expect(out.isTensor).toBe(true);
    expect(out.rank).toBe(0);
    expect(out.value).toBeCloseTo(eq2(z, g, m, true), 5);
    expect(out.perCase).toBeCloseTo(eq2(z, g, m, false), 5);
    // Unannotated (case, class) entries get no gradient.
    out.grad.forEach((v, k) => {
      const b = Math.floor(k / 6);
      const c = k % 2;
      if (!m[b][c]) expect(v).toBe(0);
    });
  });
});
