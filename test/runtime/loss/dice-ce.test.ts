import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend.js';
import { setHostKernels } from '../../../src/runtime/kernels/host_ops.js';
import { NNUNET_DICE_SMOOTH } from '../../../src/runtime/loss/constants.js';
import { createLoss } from '../../../src/runtime/loss/registry.js';
import { nnUNetRegionSpec, sigmoidDiceBceParts } from '../../../src/runtime/loss/sigmoid-dice-bce.js';
import { fusedSoftmaxDiceCe } from '../../../src/runtime/loss/fused.js';
import { nnUNetSoftmaxSpec, softmaxDiceCeParts } from '../../../src/runtime/loss/softmax-dice-ce.js';
import { setFusedOps } from '../../../src/runtime/model/fused.js';
import { Prng } from '../../../src/runtime/rng.js';
import { runPython } from '../data/python.js';
import { spawnSync } from 'node:child_process';

beforeAll(async () => {
  await initBackend('cpu');
});
afterEach(() => {
  setFusedOps('auto');
  setHostKernels('auto');
});

const L3 = Math.log(3);
const s = NNUNET_DICE_SMOOTH;

function valueAndGrad(f: (z: tf.Tensor5D) => tf.Scalar, z: tf.Tensor5D): { value: number; grad: Float32Array } {
  const { value, grads } = tf.tidy(() => {
    const r = tf.valueAndGrads((x: tf.Tensor) => f(x as tf.Tensor5D))([z]);
    return { value: tf.keep(r.value), grads: r.grads.map((t) => tf.keep(t)) };
  });
  const out = { value: value.dataSync()[0], grad: Float32Array.from(grads[0].dataSync()) };
  tf.dispose([value, ...grads]);
  return out;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Random logits and a random label map as one-hot targets, [B, D, H, W, C]. */
function randomCase(shape: [number, number, number, number, number], seed: number): { z: tf.Tensor5D; g: tf.Tensor5D; labels: number[]; logits: number[] } {
  const rng = new Prng(seed);
  const [B, D, H, W, C] = shape;
  const n = B * D * H * W;
  const logits = Array.from({ length: n * C }, () => 2.5 * rng.normal());
  // Skewed towards the background, like a real patch; every label occurs.
  const labels = Array.from({ length: n }, (_, i) => (i < C ? i : rng.next() < 0.6 ? 0 : rng.intBetween(1, C - 1)));
  const onehot = new Float32Array(n * C);
  labels.forEach((l, i) => (onehot[i * C + l] = 1));
  return { z: tf.tensor5d(logits, shape), g: tf.tensor5d(onehot, shape), labels, logits };
}

describe("dice_ce, softmax form (nnU-Net's DC_and_CE_loss)", () => {
  it('matches the hand computation: CE over all channels, Dice of the foreground, Dice term negative', () => {
    // One case, 2 voxels, channels [background, label 1]. Voxel 0: logits (0, 0) -> p (1/2, 1/2), label 1;
    // voxel 1: logits (0, ln 3) -> p (1/4, 3/4), label 0 (background).
    const z = tf.tensor5d([0, 0, 0, L3], [1, 1, 1, 2, 2]);
    const g = tf.tensor5d([0, 1, 1, 0], [1, 1, 1, 2, 2]);
    // CE = (-ln 1/2 - ln 1/4) / 2; foreground Dice: I = 1/2, sum p = 5/4, sum g = 1.
    const ce = 1.5 * Math.log(2);
    const dice = (1 + s) / (2.25 + s);
    const parts = softmaxDiceCeParts(z, g, nnUNetSoftmaxSpec(true));
    expect(parts.ce.dataSync()[0]).toBeCloseTo(ce, 6);
    expect(parts.dice.dataSync()[0]).toBeCloseTo(dice, 6);
    expect(parts.loss.dataSync()[0]).toBeCloseTo(ce - dice, 6);
    expect(fusedSoftmaxDiceCe(z, g, nnUNetSoftmaxSpec(true)).dataSync()[0]).toBeCloseTo(ce - dice, 6);
  });

  it('batch Dice pools the foreground sums over the cases; sample Dice averages per case', () => {
    // Two cases, one voxel each, label 1 in both: p_fg = 3/4 and 1/2.
    const z = tf.tensor5d([0, L3, 0, 0], [2, 1, 1, 1, 2]);
    const g = tf.tensor5d([0, 1, 0, 1], [2, 1, 1, 1, 2]);
    const ce = (-Math.log(0.75) - Math.log(0.5)) / 2;
    const batch = (2 * 1.25 + s) / (1.25 + 2 + s);
    const sample = ((2 * 0.75 + s) / (1.75 + s) + (2 * 0.5 + s) / (1.5 + s)) / 2;
    expect(fusedSoftmaxDiceCe(z, g, nnUNetSoftmaxSpec(true)).dataSync()[0]).toBeCloseTo(ce - batch, 6);
    expect(fusedSoftmaxDiceCe(z, g, nnUNetSoftmaxSpec(false)).dataSync()[0]).toBeCloseTo(ce - sample, 6);
    expect(softmaxDiceCeParts(z, g, nnUNetSoftmaxSpec(false)).loss.dataSync()[0]).toBeCloseTo(ce - sample, 6);
  });

  for (const batchDice of [true, false]) {
    it(`fused op equals the tfjs composition, value and gradient (batch_dice ${batchDice})`, () => {
      const spec = nnUNetSoftmaxSpec(batchDice);
      for (const [i, shape] of ([[2, 3, 4, 5, 4], [3, 2, 2, 6, 2], [1, 4, 4, 4, 9]] as const).entries()) {
        const { z, g } = randomCase([...shape], 10 + i);
        setFusedOps('off');
        const ref = valueAndGrad((x) => softmaxDiceCeParts(x, g, spec).loss, z);
        setFusedOps('auto');
        const got = valueAndGrad((x) => fusedSoftmaxDiceCe(x, g, spec), z);
        expect(Math.abs(got.value - ref.value)).toBeLessThan(1e-5 * (1 + Math.abs(ref.value)));
        expect(maxAbs(got.grad, ref.grad)).toBeLessThan(2e-7);
        tf.dispose([z, g]);
      }
    });
  }

  it('has the gradient of finite differences', () => {
    const spec = nnUNetSoftmaxSpec(true);
    const { g, logits } = randomCase([2, 1, 2, 2, 3], 21);
    const at = (v: number[]) => tf.tidy(() => fusedSoftmaxDiceCe(tf.tensor5d(v, [2, 1, 2, 2, 3]), g, spec).dataSync()[0]);
    const { grad } = valueAndGrad((x) => fusedSoftmaxDiceCe(x, g, spec), tf.tensor5d(logits, [2, 1, 2, 2, 3]));
    const h = 1e-2;
    for (let i = 0; i < logits.length; i++) {
      const plus = [...logits];
      const minus = [...logits];
      plus[i] += h;
      minus[i] -= h;
      expect(Math.abs(grad[i] - (at(plus) - at(minus)) / (2 * h))).toBeLessThan(2e-3);
    }
  });

  it('refuses a network without a foreground channel', () => {
    const z = tf.zeros([1, 1, 1, 2, 1]) as tf.Tensor5D;
    expect(() => fusedSoftmaxDiceCe(z, z, nnUNetSoftmaxSpec())).toThrow(/background and at least one label channel/);
  });
});

describe("dice_ce, region form (nnU-Net's DC_and_BCE_loss)", () => {
  it('matches the hand computation: mean BCE over every element, minus the mean soft Dice over classes', () => {
    // One case, 2 voxels, one region: logits (0, ln 3) -> p (1/2, 3/4), targets (1, 0); a second region
    // with logits (ln 3, 0) -> p (3/4, 1/2), targets (1, 1).
    const z = tf.tensor5d([0, L3, L3, 0], [1, 1, 1, 2, 2]);
    const g = tf.tensor5d([1, 1, 0, 1], [1, 1, 1, 2, 2]);
    const bce = (Math.log(2) + -Math.log(0.75) + Math.log(4) + Math.log(2)) / 4;
    const dice = ((1 + s) / (2.25 + s) + (2 * 1.25 + s) / (3.25 + s)) / 2;
    const m = tf.ones([1, 2]) as tf.Tensor2D;
    expect(sigmoidDiceBceParts(z, g, m, nnUNetRegionSpec(true)).loss.dataSync()[0]).toBeCloseTo(bce - dice, 6);
    const fused = createLoss('dice_ce', { output: { activation: 'sigmoid' }, options: { batchDice: true } });
    expect(fused(z, g, m).dataSync()[0]).toBeCloseTo(bce - dice, 6);
  });
});

/**
 * PyTorch restatement of nnU-Net v2's definitions: nn.CrossEntropyLoss (mean) + MemoryEfficientSoftDiceLoss
 * (softmax, do_bg False, smooth 1e-5) for label maps, nn.BCEWithLogitsLoss (mean) + the same Dice with a
 * sigmoid and do_bg True for regions; batch Dice sums the per-(case, channel) sums over the batch.
 */
const TORCH_REFERENCE = `
import json, sys, torch
import torch.nn.functional as F
def run(d):
  B, D, H, W, C = d['shape']
  z = torch.tensor(d['logits'], dtype=torch.float64).reshape(B, D, H, W, C).permute(0, 4, 1, 2, 3).contiguous().requires_grad_()
  axes = (2, 3, 4)
  smooth = 1e-5
  if d['form'] == 'softmax':
      lab = torch.tensor(d['labels']).reshape(B, D, H, W)
      ce = F.cross_entropy(z, lab)
      p = torch.softmax(z, 1)[:, 1:]
      y = F.one_hot(lab, C).permute(0, 4, 1, 2, 3).double()[:, 1:]
  else:
      y = torch.tensor(d['targets'], dtype=torch.float64).reshape(B, D, H, W, C).permute(0, 4, 1, 2, 3)
      ce = F.binary_cross_entropy_with_logits(z, y)
      p = torch.sigmoid(z)
  inter, sp, sg = (p * y).sum(axes), p.sum(axes), y.sum(axes)
  if d['batch']:
      inter, sp, sg = inter.sum(0), sp.sum(0), sg.sum(0)
  dc = (2 * inter + smooth) / (sg + sp + smooth).clamp_min(1e-8)
  loss = ce - dc.mean()
  loss.backward()
  return {'loss': loss.item(), 'grad': z.grad.permute(0, 2, 3, 4, 1).reshape(-1).tolist()}
print(json.dumps([run(d) for d in json.load(open(sys.argv[1]))]))
`;

const HAS_TORCH = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!HAS_TORCH) console.warn('dice_ce PyTorch reference skipped: /usr/bin/python3 -c "import torch" failed (apt-get install -y python3-torch)');

describe.skipIf(!HAS_TORCH)('dice_ce against a PyTorch restatement of nnU-Net v2 (value and gradient)', () => {
  const shape: [number, number, number, number, number] = [2, 3, 4, 5, 4];
  const configs = (['softmax', 'sigmoid'] as const).flatMap((form) => [true, false].map((batch) => ({ form, batch })));
  const inputs = configs.map(({ form, batch }) => {
    const { z, g, labels, logits } = randomCase(shape, form === 'softmax' ? 31 : 32);
    // Regions: overlapping binary targets (random, independent per channel).
    const rng = new Prng(33);
    const targets = form === 'softmax' ? [] : Array.from({ length: g.size }, () => (rng.next() < 0.3 ? 1 : 0));
    tf.dispose([z, g]);
    return { shape, form, batch, logits, labels, targets };
  });
  let wants: { loss: number; grad: number[] }[] = [];
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-dicece-'));
    try {
      writeFileSync(join(dir, 'cases.json'), JSON.stringify(inputs));
      wants = JSON.parse(runPython(TORCH_REFERENCE, [join(dir, 'cases.json')])) as typeof wants;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  for (const [i, { form, batch }] of configs.entries()) {
    it(`${form}, batch_dice ${batch}`, () => {
      const { logits, targets, labels } = inputs[i];
      const z = tf.tensor5d(logits, shape);
      const onehot = new Float32Array(z.size);
      labels.forEach((l, k) => (onehot[k * shape[4] + l] = 1));
      const g = tf.tensor5d(onehot, shape);
      const gt = form === 'softmax' ? g : tf.tensor5d(targets, shape);
      const want = wants[i];
      const output = form === 'softmax' ? { activation: 'softmax' as const, labels: [0, 1, 2, 3] } : { activation: 'sigmoid' as const };
      const loss = createLoss('dice_ce', { output, options: { batchDice: batch } });
      const m = tf.ones([shape[0], shape[4]]) as tf.Tensor2D;
      for (const fusedMode of ['auto', 'off'] as const) {
        setFusedOps(fusedMode);
        const got = valueAndGrad((x) => loss(x, gt, m), z);
        expect(Math.abs(got.value - want.loss), `${fusedMode}: value`).toBeLessThan(2e-6 * (1 + Math.abs(want.loss)));
        expect(maxAbs(got.grad, want.grad), `${fusedMode}: gradient`).toBeLessThan(1e-7);
      }
      tf.dispose([z, g, gt, m]);
    });
  }
});
