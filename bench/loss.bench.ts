// The losses' cost per training step (value + gradient w.r.t. the logits) on the cpu backend: the
// fused ops (src/runtime/loss/fused.ts, softmax-dice-ce.ts) against the tfjs composition.
//   npx vitest bench --run bench/loss.bench.ts
// MTC_BENCH_SKIP_TFJS=1 skips the (slow) tfjs compositions.
import * as tf from '@tensorflow/tfjs';
import { bench, describe } from 'vitest';

import { initBackend } from '../src/runtime/backend.js';
import { createLoss, type LossSetup } from '../src/runtime/loss/registry.js';
import { setFusedOps } from '../src/runtime/model/fused.js';

await initBackend('cpu');
const skipTfjs = process.env.MTC_BENCH_SKIP_TFJS === '1';

type Shape5 = [number, number, number, number, number];
const shapes: Shape5[] = [
  [2, 32, 32, 32, 4], // the quickstart's patch, 3 labels + background
  [2, 48, 64, 64, 14], // a BTCV-like baseline (13 labels + background) at a mid-size patch
];
const setups: [string, LossSetup][] = [
  ['multitalent (batch Dice)', { output: { activation: 'sigmoid' }, options: { batchDice: true } }],
  ['multitalent (per-case Dice)', { output: { activation: 'sigmoid' }, options: { batchDice: false } }],
  ['dice_ce softmax', { output: { activation: 'softmax', labels: [] }, options: { batchDice: true } }],
];

for (const shape of shapes) {
  const [B, , , , C] = shape;
  const z = tf.randomNormal(shape, 0, 2, 'float32', 1) as tf.Tensor5D;
  const labels = tf.randomUniform(shape.slice(0, 4), 0, C, 'int32', 2);
  const onehot = tf.oneHot(tf.reshape(labels, [-1]), C).reshape(shape).cast('float32') as tf.Tensor5D;
  const m = tf.ones([B, C]) as tf.Tensor2D;
  describe(`loss value + gradient, logits [${shape.join(', ')}]`, () => {
    for (const [name, base] of setups) {
      const setup: LossSetup = base.output.activation === 'softmax' ? { ...base, output: { activation: 'softmax', labels: Array.from({ length: C }, (_, i) => i) } } : base;
      const loss = createLoss(name.startsWith('dice_ce') ? 'dice_ce' : 'multitalent', setup);
      const step = (): void => {
        const g = tf.tidy(() => tf.grad((x: tf.Tensor) => loss(x as tf.Tensor5D, onehot, m))(z));
        g.dataSync();
        g.dispose();
      };
      bench(`${name}, fused`, () => {
        setFusedOps('auto');
        step();
      }, { iterations: 5, warmupIterations: 1 });
      bench.skipIf(skipTfjs)(`${name}, tfjs composition`, () => {
        setFusedOps('off');
        step();
        setFusedOps('auto');
      }, { iterations: 3, warmupIterations: 1 });
    }
  });
}
