import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeadSpec, Vec3 } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import type { Affine } from '../../../src/runtime/data/nifti/affine.js';
import { readNiftiHeader, readNiftiLabel } from '../../../src/runtime/data/nifti/read.js';
import { RunEvents, type RunEvent } from '../../../src/runtime/events.js';
import { MemoryBudgetError } from '../../../src/runtime/infer/accumulator.js';
import { type InferenceModel, loadInferenceModel } from '../../../src/runtime/infer/model-source.js';
import { checkOutputFolder, classFileStems, inferCases, listInferInputs, selectHeads } from '../../../src/runtime/infer/predictor.js';
import { HAS_NIBABEL, NIBABEL_SKIP_REASON, runPython } from '../data/python.js';
import { LevelNet, ORGAN_HEADS, normalised, phantomCt, writeCt, writeModelDir } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SHAPE: Vec3 = [10, 16, 14];
const SPACING: Vec3 = [2, 2, 2];
/** LPS: voxel x runs to the left, y to posterior, z up; an origin away from 0. */
const LPS: Affine = [
  [-2, 0, 0, 30],
  [0, -2, 0, 40],
  [0, 0, 2, -50],
  [0, 0, 0, 1],
];

async function setup(heads: HeadSpec[] = ORGAN_HEADS): Promise<{ dir: string; model: InferenceModel; input: string; ct: ReturnType<typeof phantomCt> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mtc-infer-'));
  await writeModelDir(join(dir, 'model'), { heads, spacing: SPACING });
  const ct = phantomCt(SHAPE);
  const input = join(dir, 'images', 'case_a_0000.nii.gz');
  await mkdir(join(dir, 'images'), { recursive: true });
  await writeCt(input, ct.image, SHAPE, SPACING, LPS);
  return { dir, model: await loadInferenceModel(join(dir, 'model')), input, ct };
}

const organLevels = [normalised(150), normalised(300)];
const levelNet = (heads: HeadSpec[], levels: number[]) => () => [new LevelNet(heads, levels)];

describe('mtc infer pipeline (preprocess, sliding window, export)', () => {
  it('writes one mask per class and a protocol label map with the input geometry, in the file order', async () => {
    const { dir, model, ct } = await setup();
    const events = new RunEvents();
    const seen: RunEvent[] = [];
    events.subscribe((e) => seen.push(e));
    const out = join(dir, 'out');
    const summary = await inferCases(model, await listInferInputs(join(dir, 'images')), out, {
      protocol: 'abdomen',
      statistics: true,
      preview: true,
      events,
      createNetworks: levelNet(ORGAN_HEADS, organLevels),
    });
    expect(summary.classes).toEqual(['organ', 'lesion']);
    const organ = await readNiftiLabel(join(out, 'case_a', 'organ.nii.gz'));
    const lesion = await readNiftiLabel(join(out, 'case_a', 'lesion.nii.gz'));
    const map = await readNiftiLabel(join(out, 'case_a.nii.gz'));
    // the regions of the phantom, exactly (no resampling at equal spacing), in the stored voxel order
    expect(Array.from(organ.volume.data)).toEqual(Array.from(ct.organ));
    expect(Array.from(lesion.volume.data)).toEqual(Array.from(ct.lesion));
    // regions_class_order: organ {1, 2} writes 1, then lesion {2} overwrites with 2
    expect(Array.from(map.volume.data)).toEqual(Array.from(ct.organ, (o, i) => (ct.lesion[i] ? 2 : o ? 1 : 0)));
    for (const f of [organ, map]) {
      expect(f.geometry.affine).toEqual(LPS);
      expect(f.geometry.shape).toEqual(SHAPE);
      expect(f.geometry.orientationCode).toBe('LPS');
    }
    // statistics: voxel count times the voxel volume, mean HU inside the mask
    const stats = JSON.parse(await readFile(join(out, 'case_a', 'statistics.json'), 'utf8')) as Record<string, { voxels: number; volume_mm3: number; mean_hu: number | null }>;
    const n = ct.organ.reduce((a, b) => a + b, 0);
    const huSum = ct.image.reduce((s, v, i) => s + (ct.organ[i] ? v : 0), 0);
    expect(stats.organ.voxels).toBe(n);
    expect(stats.organ.volume_mm3).toBeCloseTo(n * 8, 9);
    expect(stats.organ.mean_hu).toBeCloseTo(huSum / n, 9);
    const png = await readFile(join(out, 'case_a', 'preview.png'));
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const labels = JSON.parse(await readFile(join(out, 'labels.json'), 'utf8')) as { labels: Record<string, string> };
    expect(labels.labels).toEqual({ '0': 'background', '1': 'organ', '2': 'lesion' });
    // progress like training's: the activity is announced, makes progress in tiles, and ends
    expect(seen[0]).toMatchObject({ type: 'job-start', command: 'infer', activities: ['infer:case_a'] });
    expect(seen.some((e) => e.type === 'stage-progress' && e.stage === 'infer:case_a' && e.unit === 'tiles' && e.done === e.total)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ type: 'job-end', status: 'done' });
  });

  it('resamples probabilities back to an anisotropic input grid and keeps its header', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-infer-'));
    await writeModelDir(join(dir, 'model'), { spacing: [1.5, 1, 1] });
    const shape: Vec3 = [12, 30, 28];
    const spacing: Vec3 = [4, 0.8, 0.8];
    const ct = phantomCt(shape);
    const input = join(dir, 'ct.nii.gz');
    await writeCt(input, ct.image, shape, spacing);
    const model = await loadInferenceModel(join(dir, 'model'));
    await inferCases(model, await listInferInputs(input), join(dir, 'out'), { mirror: false, createNetworks: levelNet(ORGAN_HEADS, organLevels) });
    const organ = await readNiftiLabel(join(dir, 'out', 'ct', 'organ.nii.gz'));
    expect(organ.geometry.shape).toEqual(shape);
    organ.geometry.spacing.forEach((v, a) => expect(v).toBeCloseTo(spacing[a], 6));
    let tp = 0;
    let fp = 0;
    let fn = 0;
    organ.volume.data.forEach((p, i) => {
      if (p && ct.organ[i]) tp++;
      else if (p) fp++;
      else if (ct.organ[i]) fn++;
    });
    expect((2 * tp) / (2 * tp + fp + fn)).toBeGreaterThan(0.9);
  });

  it('stays within a small memory budget: 16-bit accumulators, then classes in passes, with the same masks', async () => {
    const heads: HeadSpec[] = Array.from({ length: 6 }, (_, i) => ({ dataset: 'abdomen', name: `c${i}`, labels: [1] }));
    const levels = [-1, 0, 0.25, 0.5, 1.0, 2.0].map((v) => v + 0.013);
    const { dir, model } = await setup(heads);
    const inputs = await listInferInputs(join(dir, 'images'));
    const run = async (out: string, memoryBytes?: number) =>
      inferCases(model, inputs, join(dir, out), { mirror: false, memoryBytes, createNetworks: levelNet(heads, levels) });
    const free = await run('free');
    const plan = free.cases[0].report.plan;
    expect(plan.precision).toBe('float32');
    const voxels = plan.accumulatorBytes / (6 * 4);
    // room for all six classes at 16 bits but not at 32
    const half = await run('half', plan.fixedBytes + 6 * voxels * 2);
    expect(half.cases[0].report.plan).toMatchObject({ precision: 'uint16', groups: [[0, 1, 2, 3, 4, 5]] });
    // room for two classes at 16 bits: three passes
    const small = await run('small', plan.fixedBytes + 2 * voxels * 2 + 100);
    const p = small.cases[0].report.plan;
    expect(p).toMatchObject({ precision: 'uint16', groups: [[0, 1], [2, 3], [4, 5]] });
    expect(p.accumulatorBytes + p.fixedBytes).toBeLessThanOrEqual(p.budgetBytes);
    expect(small.cases[0].report.forwardPasses).toBe(3 * free.cases[0].report.tiles);
    for (const h of heads) {
      const a = await readFile(join(dir, 'free', 'case_a', `${h.name}.nii.gz`));
      for (const other of ['half', 'small']) {
        const b = await readFile(join(dir, other, 'case_a', `${h.name}.nii.gz`));
        expect(b.equals(a), `${other}/${h.name}`).toBe(true);
      }
    }
    await expect(run('none', plan.fixedBytes + 10)).rejects.toBeInstanceOf(MemoryBudgetError);
    await expect(run('none', plan.fixedBytes + 10)).rejects.toThrow(/needs at least .* more than the memory budget/);
  });

  it('averages folds: p = 0.8 and p = 0.1 average to 0.45, below the threshold', async () => {
    const { dir, model } = await setup();
    const two: InferenceModel = { ...model, folds: [model.folds[0], { ...model.folds[0], fold: 1 }] };
    // logit = gain * (x - level) with a tiny gain: about 1.386 (p 0.8) and -2.197 (p 0.1) everywhere
    const foldA = () => new LevelNet(ORGAN_HEADS, [-1386, -1386], [8, 8, 8], 0.001);
    const foldB = () => new LevelNet(ORGAN_HEADS, [2197, 2197], [8, 8, 8], 0.001);
    const inputs = await listInferInputs(join(dir, 'images'));
    await inferCases(model, inputs, join(dir, 'one'), { mirror: false, classes: ['organ'], createNetworks: () => [foldA()] });
    await inferCases(two, inputs, join(dir, 'two'), { mirror: false, classes: ['organ'], createNetworks: () => [foldA(), foldB()] });
    const one = await readNiftiLabel(join(dir, 'one', 'case_a', 'organ.nii.gz'));
    const both = await readNiftiLabel(join(dir, 'two', 'case_a', 'organ.nii.gz'));
    const cropVoxels = (SHAPE[0] - 2) * (SHAPE[1] - 2) * (SHAPE[2] - 2);
    expect(one.volume.data.reduce((a, b) => a + b, 0)).toBe(cropVoxels);
    expect(both.volume.data.every((v) => v === 0)).toBe(true);
    expect(existsSync(join(dir, 'two', 'case_a', 'lesion.nii.gz'))).toBe(false);
  });
});

describe('an interrupted case', () => {
  it('leaves nothing half-written: the case folder appears only when all its files are written', async () => {
    const { dir, model } = await setup();
    const abort = new AbortController();
    const events = new RunEvents();
    events.subscribe((e) => {
      if (e.type === 'stage-progress' && e.done >= 1) abort.abort();
    });
    const out = join(dir, 'out');
    await expect(
      inferCases(model, await listInferInputs(join(dir, 'images')), out, { events, signal: abort.signal, protocol: 'abdomen', createNetworks: levelNet(ORGAN_HEADS, organLevels) }),
    ).rejects.toThrow();
    expect(await readdir(out)).toEqual([]);
  });
});

describe('softmax models (the manifest says so)', () => {
  it('write the label of the most probable channel, then each class from it', async () => {
    const classes: HeadSpec[] = [
      { dataset: 'abdomen', name: 'organ', labels: [1] },
      { dataset: 'abdomen', name: 'lesion', labels: [2] },
    ];
    const channels: HeadSpec[] = [{ dataset: 'abdomen', name: 'background', labels: [0] }, ...classes];
    const { dir, model, ct } = await setup(classes);
    const softmax: InferenceModel = {
      ...model,
      folds: model.folds.map((f) => ({ ...f, manifest: { ...f.manifest, heads: channels, output: { activation: 'softmax' as const, labels: [0, 1, 2], classes } } })),
    };
    const [a, b] = organLevels;
    // logits: background 40 (a - x), organ 0, lesion 40 (x - b)
    const net = new LevelNet(channels, [0, 0, 0]);
    net.apply = (x) => tf.tidy(() => tf.concat([tf.mul(tf.sub(a, x), 40), tf.mul(x, 0), tf.mul(tf.sub(x, b), 40)], 4) as tf.Tensor5D);
    const r = await inferCases(softmax, await listInferInputs(join(dir, 'images')), join(dir, 'out'), { mirror: false, protocol: 'abdomen', createNetworks: () => [net] });
    expect(r.activation).toBe('softmax');
    const organ = await readNiftiLabel(join(dir, 'out', 'case_a', 'organ.nii.gz'));
    const lesion = await readNiftiLabel(join(dir, 'out', 'case_a', 'lesion.nii.gz'));
    const map = await readNiftiLabel(join(dir, 'out', 'case_a.nii.gz'));
    expect(Array.from(organ.volume.data)).toEqual(Array.from(ct.organ, (o, i) => (o && !ct.lesion[i] ? 1 : 0)));
    expect(Array.from(lesion.volume.data)).toEqual(Array.from(ct.lesion));
    expect(Array.from(map.volume.data)).toEqual(Array.from(ct.organ, (o, i) => (ct.lesion[i] ? 2 : o ? 1 : 0)));
    expect(existsSync(join(dir, 'out', 'case_a', 'background.nii.gz'))).toBe(false);
  });
});

describe('inputs, classes and output folders', () => {
  it("lists nnU-Net's CASE_0000 names and plain names, and refuses other channels and duplicates", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-inputs-'));
    for (const n of ['b_0000.nii.gz', 'a.nii', 'notes.txt', '.hidden.nii.gz']) await writeFile(join(dir, n), '');
    expect(await listInferInputs(dir)).toEqual([
      { id: 'a', path: join(dir, 'a.nii') },
      { id: 'b', path: join(dir, 'b_0000.nii.gz') },
    ]);
    await writeFile(join(dir, 'b_0001.nii.gz'), '');
    await expect(listInferInputs(dir)).rejects.toThrow(/is channel 0001 of case 'b'/);
    const dup = await mkdtemp(join(tmpdir(), 'mtc-inputs-'));
    for (const n of ['c_0000.nii.gz', 'c.nii.gz']) await writeFile(join(dup, n), '');
    await expect(listInferInputs(dup)).rejects.toThrow(/two images of case 'c'/);
    await expect(listInferInputs(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
    await expect(listInferInputs(join(dir, 'notes.txt'))).rejects.toThrow(/is not a NIfTI file/);
  });

  it('selects classes by name or dataset.class, refusing unknown and ambiguous ones', async () => {
    const { model } = await setup();
    const plans = structuredClone(model.plans);
    plans.heads.push({ dataset: 'other', name: 'organ', labels: [1], tags: [] });
    plans.protocols.other = { order: [{ class: 'organ', value: 1 }], labels: {} };
    expect(selectHeads(plans, undefined, undefined)).toEqual([0, 1, 2]);
    expect(selectHeads(plans, undefined, 'other')).toEqual([2]);
    expect(selectHeads(plans, ['lesion', 'other.organ'], undefined)).toEqual([1, 2]);
    expect(() => selectHeads(plans, ['organ'], undefined)).toThrow(/'organ' is ambiguous \(abdomen.organ, other.organ\)/);
    expect(() => selectHeads(plans, ['liver'], undefined)).toThrow(/'liver' is not a class of the model/);
    expect(() => selectHeads(plans, undefined, 'nowhere')).toThrow(/no classes of dataset 'nowhere'/);
    expect(classFileStems(plans.heads)).toEqual(['abdomen.organ', 'abdomen.lesion', 'other.organ']);
    expect(classFileStems(model.plans.heads)).toEqual(['organ', 'lesion']);
  });

  it('refuses an output folder that cannot be written, before any work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-out-'));
    await writeFile(join(dir, 'file'), 'x');
    await expect(checkOutputFolder(join(dir, 'file', 'out'))).rejects.toThrow(/cannot be written \(ENOTDIR\).*Pick an output folder/);
  });
});

describe('bad input gets a clear error', () => {
  it('refuses a label map, a normalised image, raw values without rescale, and 4-D data', async () => {
    const { dir, model } = await setup();
    const run = (file: string) => inferCases(model, [{ id: 'x', path: file }], join(dir, 'out'), { createNetworks: levelNet(ORGAN_HEADS, organLevels) });
    const n = SHAPE[0] * SHAPE[1] * SHAPE[2];
    const label = join(dir, 'label.nii.gz');
    await writeCt(label, Uint8Array.from({ length: n }, (_, i) => i % 3), SHAPE, SPACING, undefined, 'uint8');
    await expect(run(label)).rejects.toThrow(/label\.nii\.gz: does not look like a CT in Hounsfield units: it holds only whole numbers 0\.\.2/);
    const norm = join(dir, 'norm.nii.gz');
    await writeCt(norm, Float32Array.from({ length: n }, (_, i) => Math.sin(i)), SHAPE, SPACING, undefined, 'float32');
    await expect(run(norm)).rejects.toThrow(/looks already normalised/);
    const raw = join(dir, 'raw.nii.gz');
    await writeCt(raw, Float32Array.from({ length: n }, (_, i) => 24 + (i % 2000)), SHAPE, SPACING);
    await expect(run(raw)).rejects.toThrow(/no negative value.*rescale slope\/intercept/);
    const fourD = join(dir, '4d.nii.gz');
    const bytes = await import('../../../src/runtime/data/nifti/write.js').then((m) => m.encodeNifti(fourD, { data: new Float32Array(n), shape: SHAPE, spacing: SPACING }, { datatype: 'float32' }));
    // make it 4-D: dim[0] = 4, dim[4] = 2, and append a second volume
    const view = new DataView(bytes.buffer);
    view.setInt16(40, 4, true);
    view.setInt16(48, 2, true);
    const both = new Uint8Array(bytes.length + n * 4);
    both.set(bytes);
    await writeFile(fourD.replace(/\.gz$/, ''), both);
    await expect(run(fourD.replace(/\.gz$/, ''))).rejects.toThrow(/is 4-D .* with 2 volumes/);
  });

  it('a model without plans.json is refused by name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-noplans-'));
    await writeModelDir(dir);
    await writeFile(join(dir, 'plans.json'), '{"format": "multitalent-plans", "version": 99}');
    await expect(loadInferenceModel(dir)).rejects.toThrow(/plans\.json: is not usable plans: is plans version 99; .* update mtc/);
  });
});

describe.skipIf(!HAS_NIBABEL)(`nibabel reads the outputs with the input's affine${HAS_NIBABEL ? '' : ` [SKIPPED: ${NIBABEL_SKIP_REASON}]`}`, () => {
  it('affine, shape and voxels agree with nibabel', async () => {
    const { dir, model, ct } = await setup();
    await inferCases(model, await listInferInputs(join(dir, 'images')), join(dir, 'out'), { protocol: 'abdomen', createNetworks: levelNet(ORGAN_HEADS, organLevels) });
    const py = `
import sys, json, nibabel as nib, numpy as np
img = nib.load(sys.argv[1]); seg = nib.load(sys.argv[2])
d = np.asarray(seg.dataobj)
print(json.dumps({"same_affine": bool(np.allclose(img.affine, seg.affine, atol=1e-5)), "shape": list(seg.shape), "dtype": str(seg.get_data_dtype()),
  "codes": list(nib.aff2axcodes(seg.affine)), "count2": int((d == 2).sum()), "count1": int((d == 1).sum())}))
`;
    const r = JSON.parse(runPython(py, [join(dir, 'images', 'case_a_0000.nii.gz'), join(dir, 'out', 'case_a.nii.gz')])) as Record<string, unknown>;
    expect(r).toEqual({
      same_affine: true,
      shape: [SHAPE[2], SHAPE[1], SHAPE[0]],
      dtype: 'uint8',
      codes: ['L', 'P', 'S'],
      count2: ct.lesion.reduce((a, b) => a + b, 0),
      count1: ct.organ.reduce((a, b, i) => a + (b && !ct.lesion[i] ? 1 : 0), 0),
    });
    expect((await readNiftiHeader(join(dir, 'out', 'case_a.nii.gz'))).affine).toEqual(LPS);
  });
});
