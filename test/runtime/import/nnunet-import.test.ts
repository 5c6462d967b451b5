import { rmSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { importNnunet } from '../../../src/runtime/import/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti } from '../../../src/runtime/data/nifti/read.js';
import { applyCtNormalization } from '../../../src/runtime/data/preprocess/normalize.js';
import { registerFastCpuKernels } from '../../../src/runtime/kernels/index.js';
import { HAS_NIBABEL } from '../data/python.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { buildReference, channelsLast, HAS_TORCH, type Reference, TORCH_SKIP_REASON } from './reference.js';

registerFastCpuKernels();

const built: Reference[] = [];
afterAll(() => {
  for (const r of built) rmSync(r.out, { recursive: true, force: true });
});

function reference(args: string[]): Reference {
  const r = buildReference(args);
  built.push(r);
  return r;
}

/** Imports `ref`'s model and compares every output of mtc's network with PyTorch's on the reference patch. */
async function expectSameNetwork(ref: Reference, path = ref.modelDir): Promise<{ maxDiff: number; model: Awaited<ReturnType<typeof importNnunet>> }> {
  await tf.setBackend('cpu');
  const model = await importNnunet([path]);
  const net = UNet.fromWeights(model.architecture, model.heads, model.folds[0].weights);
  try {
    expect(net.parameterCount()).toBe(ref.parameters);
    expect(model.folds[0].mapping.parameters).toBe(ref.parameters);
    const outs = tf.tidy(() => net.applyAll(tf.tensor5d(ref.input, [1, ...ref.patch, 1])));
    expect(outs.length).toBe(ref.outputs.length);
    let maxDiff = 0;
    outs.forEach((o, k) => {
      expect(o.shape.slice(1)).toEqual([...ref.outputShapes[k].slice(1), ref.outputShapes[k][0]]);
      const want = channelsLast(ref.outputs[k], ref.outputShapes[k]);
      const got = o.dataSync();
      for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    });
    tf.dispose(outs);
    expect(maxDiff).toBeLessThan(1e-4);
    return { maxDiff, model };
  } finally {
    net.dispose();
  }
}

describe.skipIf(!HAS_TORCH)('importing nnU-Net networks built and saved by PyTorch', () => {
  it('v2 PlainConvUNet (zip checkpoint, softmax labels): same parameters, same outputs within 1e-4', async () => {
    const ref = reference(['v2', '--arch', 'plain']);
    const { model } = await expectSameNetwork(ref);
    expect(model.activation).toBe('softmax');
    expect(model.heads.map((h) => h.name)).toEqual(['background', 'spleen', 'kidney_right']);
    expect(model.source).toMatchObject({ format: 'nnunet-v2', network: 'PlainConvUNet', serialisation: 'zip', configuration: '3d_fullres' });
    const m = model.folds[0].mapping;
    // every conv unit once more as all_modules.N, the encoder once more under decoder.encoder.
    expect(m.aliases.some((a) => a.torch.endsWith('all_modules.0.weight'))).toBe(true);
    expect(m.aliases.some((a) => a.torch.startsWith('decoder.encoder.'))).toBe(true);
    expect(m.used.length + m.aliases.length).toBe(new Set([...m.used.map((u) => u.torch), ...m.aliases.map((a) => a.torch)]).size);
    expect(model.preprocessing.spacing).toEqual([2.5, 0.8, 0.8]);
    expect(model.preprocessing.normalization).toEqual({ mean: 63.44, std: 175.48, p005: -927, p995: 275 });
  });

  it('v2 ResidualEncoderUNet (regions: sigmoid outputs; avg-pool skips, one with no conv)', async () => {
    const ref = reference(['v2', '--arch', 'resenc', '--regions']);
    const { model } = await expectSameNetwork(ref);
    expect(model.activation).toBe('sigmoid');
    expect(model.heads).toEqual([
      { dataset: 'liver', name: 'liver', labels: [1, 2] },
      { dataset: 'liver', name: 'tumour', labels: [2] },
    ]);
    expect(model.architecture.layers).toEqual({ padding: 'symmetric', residualSkip: 'avgpool_conv', convBias: true, upsampleBias: true, headBias: true, decoderKernels: 'stage' });
  });

  it('v1 Generic_UNet of the MultiTalent trainer (legacy serialisation): 47 region outputs named by the stdlib', async () => {
    const ref = reference(['v1', '--legacy']);
    const { model } = await expectSameNetwork(ref, `${ref.modelDir}/fold_0/model_final_checkpoint.model`);
    expect(model.source).toMatchObject({ format: 'nnunet-v1', network: 'Generic_UNet', trainer: 'MultiTalent_trainer_ddp', serialisation: 'legacy' });
    expect(model.activation).toBe('sigmoid');
    expect(model.heads).toHaveLength(47);
    expect(model.heads[0]).toEqual({ dataset: 'msd_liver', name: 'liver', labels: [1, 2] });
    expect(model.heads[41]).toEqual({ dataset: 'kits19', name: 'kidney', labels: [1, 2] });
    expect(model.architecture.layers).toMatchObject({ upsampleBias: false, headBias: false, decoderKernels: 'deeper' });
    expect(model.architecture.features).toEqual([4, 8, 16, 32]);
    expect(model.preprocessing.normalization.p995).toBe(275);
  });

  it('both serialisations of one checkpoint import to the same weights', async () => {
    const zip = reference(['v2', '--arch', 'plain', '--seed', '3']);
    const legacy = reference(['v2', '--arch', 'plain', '--seed', '3', '--legacy']);
    const a = await importNnunet([zip.modelDir]);
    const b = await importNnunet([legacy.modelDir]);
    expect(b.source.serialisation).toBe('legacy');
    for (const [k, v] of a.folds[0].weights) expect(b.folds[0].weights.get(k)).toEqual(v);
  });
});

/**
 * nnU-Net's inference of a CT one tile in size at the plans' spacing, without mirroring, done with the
 * imported facts: mtc's NIfTI reader (RAS+), CT normalisation with the plans' statistics, the imported
 * network, then argmax (softmax) or p > 0.5 per class (sigmoid). Same segmentation as PyTorch's.
 */
async function segmentLikeNnunet(ref: Reference, model: Awaited<ReturnType<typeof importNnunet>>): Promise<Uint8Array> {
  const ct = await readNifti(join(ref.out, 'reference', 'ct.nii.gz'), { orientation: 'ras' });
  expect(ct.volume.shape).toEqual(model.architecture.patch);
  ct.volume.spacing.forEach((v, a) => expect(v).toBeCloseTo(model.preprocessing.spacing[a], 6));
  const x = applyCtNormalization(new Float32Array(ct.volume.data), { ...model.preprocessing.normalization, samples: 0 });
  const net = UNet.fromWeights(model.architecture, model.heads, model.folds[0].weights);
  try {
    const c = model.heads.length;
    const p = tf.tidy(() => {
      const logits = net.apply(tf.tensor5d(x, [1, ...model.architecture.patch, 1]));
      return model.activation === 'softmax' ? tf.argMax(logits, -1) : tf.transpose(tf.greater(tf.sigmoid(logits), 0.5), [0, 4, 1, 2, 3]);
    });
    const out = Uint8Array.from(p.dataSync());
    p.dispose();
    expect(out.length).toBe(model.activation === 'softmax' ? x.length : x.length * c);
    return out;
  } finally {
    net.dispose();
  }
}

describe.skipIf(!HAS_TORCH || !HAS_NIBABEL)('the imported plans segment a CT as nnU-Net does', () => {
  it.each([
    ['v2 softmax (label map)', ['v2', '--arch', 'plain', '--ct', '--spacing', '2,1.5,1.5'], 'segmentation.bin'],
    ['v2 regions (a mask per class)', ['v2', '--arch', 'resenc', '--regions', '--ct'], 'masks.bin'],
    ['MultiTalent v1 (47 masks)', ['v1', '--ct'], 'masks.bin'],
  ])('%s', async (_, args, file) => {
    const ref = reference(args as string[]);
    const model = await importNnunet([ref.modelDir]);
    const want = new Uint8Array(readFileSync(join(ref.out, 'reference', file as string)));
    const got = await segmentLikeNnunet(ref, model);
    let differ = 0;
    for (let i = 0; i < want.length; i++) if (want[i] !== got[i]) differ++;
    expect(differ).toBe(0);
    expect(new Set(want).size).toBeGreaterThan(1);
  });
});

if (!HAS_TORCH) it.skip(`importing nnU-Net networks built by PyTorch: ${TORCH_SKIP_REASON}`, () => {});
