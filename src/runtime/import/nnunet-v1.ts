/**
 * nnU-Net v1 checkpoints: `model_final_checkpoint.model` (torch.save of {state_dict, ...}) with its
 * `model_final_checkpoint.model.pkl` (the trainer's name and plans), i.e. the Generic_UNet that
 * nnUNetTrainerV2 and its descendants build: convolutional pooling and upsampling, deep supervision,
 * transposed and output convolutions without bias, softmax over the labels; the MultiTalent
 * trainers give it one sigmoid output per region of the authors' collection (./multitalent-v1.ts).
 *
 * State-dict names (d: encoder stage, u = n - 2 - i: decoder stage, 0 at the lowest resolution):
 *   conv_blocks_context.{d}.blocks.{j}.conv.{weight,bias}, .instnorm.{weight,bias}   (d < n - 1)
 *   conv_blocks_context.{n-1}.0.blocks.{j} (the bottleneck's first convs), .1.blocks.0 (its last)
 *   tu.{u}.weight                                                          (transposed conv, no bias)
 *   conv_blocks_localization.{u}.0.blocks.{j}, .1.blocks.0                  (decoder convs)
 *   seg_outputs.{u}.weight                                                 (1x1x1, no bias)
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ArchitectureSpec, HeadSpec, Vec3 } from '../../graph/types.js';
import { MtDataError } from '../data/errors.js';
import { validateArchitecture } from '../model/registry.js';
import { mapStateDict, type TorchName } from './mapping.js';
import { type ImportedDataset, type ImportedFold, type ImportedModel, identifier } from './model.js';
import { MULTITALENT_STDLIB, MULTITALENT_V1_OUTPUTS } from './multitalent-v1.js';
import { NdArray, NumpyScalar, type PyDict, type PyValue, TensorRef, ndarrayNumbers, numpyScalarValue } from './pickle.js';
import { readPickleFile, readTorchFile } from './torch-file.js';

/** Generic_UNet's cap on feature maps (3D). */
const MAX_FEATURES_3D = 320;

function num(v: PyValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (v instanceof NumpyScalar) return numpyScalarValue(v);
  return undefined;
}

function numbers(v: PyValue | undefined): number[] | undefined {
  if (v instanceof NdArray) return ndarrayNumbers(v);
  if (Array.isArray(v)) {
    const out = v.map(num);
    return out.every((x): x is number => x !== undefined) ? out : undefined;
  }
  return undefined;
}

function get(d: PyValue | undefined, key: string | number): PyValue | undefined {
  return d instanceof Map ? d.get(key) : undefined;
}

function vec3(path: string, key: string, v: PyValue | undefined, integer: boolean): Vec3 {
  const n = numbers(v);
  if (!n || n.length !== 3 || !n.every((x) => x > 0 && (!integer || Number.isInteger(x)))) {
    throw MtDataError.about(path, `${key} is not three positive ${integer ? 'integers' : 'numbers'} (a 3D plans stage)`, 'mtc imports 3D nnU-Net v1 models; 2D ones are not supported');
  }
  return n as Vec3;
}

/** mtc parameter name -> Generic_UNet state-dict key (see the module doc). */
export function v1TorchName(arch: ArchitectureSpec): TorchName {
  const n = arch.features.length;
  const c = arch.convsPerStage;
  const layer = (prefix: string, kind: string, param: string): string => {
    const torchParam = param === 'scale' ? 'weight' : param === 'offset' ? 'bias' : param;
    return `${prefix}.${kind === 'norm' ? 'instnorm' : 'conv'}.${torchParam}`;
  };
  const twoPart = (prefix: string, j: number): string => (j < c - 1 ? `${prefix}.0.blocks.${j}` : `${prefix}.1.blocks.0`);
  return (name) => {
    let m: RegExpExecArray | null;
    if ((m = /^enc(\d+)\.(conv|norm)(\d+)\.(\w+)$/.exec(name))) {
      const d = Number(m[1]);
      const j = Number(m[3]);
      const prefix = d < n - 1 ? `conv_blocks_context.${d}.blocks.${j}` : twoPart(`conv_blocks_context.${d}`, j);
      return layer(prefix, m[2], m[4]);
    }
    if ((m = /^dec(\d+)\.up\.weight$/.exec(name))) return `tu.${n - 2 - Number(m[1])}.weight`;
    if ((m = /^dec(\d+)\.(conv|norm)(\d+)\.(\w+)$/.exec(name))) return layer(twoPart(`conv_blocks_localization.${n - 2 - Number(m[1])}`, Number(m[3])), m[2], m[4]);
    if (name === 'head.weight') return `seg_outputs.${n - 2}.weight`;
    if ((m = /^head\.ds(\d+)\.weight$/.exec(name))) return `seg_outputs.${n - 2 - Number(m[1])}.weight`;
    throw new Error(`internal: no Generic_UNet name for mtc parameter '${name}'`);
  };
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The v1 checkpoints in a trainer folder (fold_*) or fold folder. */
export async function v1CheckpointFiles(dir: string, which: 'final' | 'best'): Promise<{ fold: number | null; file: string }[]> {
  const name = which === 'final' ? 'model_final_checkpoint.model' : 'model_best.model';
  if (await isFile(join(dir, name))) return [{ fold: foldOf(dir), file: join(dir, name) }];
  const out: { fold: number | null; file: string }[] = [];
  const folds = (await readdir(dir)).filter((n) => /^fold_(\d+|all)$/.test(n)).sort();
  for (const f of folds) if (await isFile(join(dir, f, name))) out.push({ fold: foldOf(join(dir, f)), file: join(dir, f, name) });
  return out;
}

function foldOf(dir: string): number | null {
  const m = /^fold_(\d+)$/.exec(basename(dir));
  return m ? Number(m[1]) : null;
}

export interface V1ImportOptions {
  reserved?: readonly string[];
}

/** Imports nnU-Net v1 checkpoints (each with its `.model.pkl`); all must be folds of one model. */
export async function importV1(files: { fold: number | null; file: string }[], options: V1ImportOptions = {}): Promise<ImportedModel> {
  const first = files[0];
  const pklPath = `${first.file}.pkl`;
  if (!(await isFile(pklPath))) throw MtDataError.about(pklPath, 'is missing: nnU-Net v1 keeps the trainer and its plans next to the checkpoint', 'Copy the .model.pkl file together with the .model file');
  const info = await readPickleFile(pklPath);
  const trainer = get(info, 'name');
  const plans = get(info, 'plans');
  if (typeof trainer !== 'string' || !(plans instanceof Map)) throw MtDataError.about(pklPath, "lacks the trainer 'name' or its 'plans'", 'Pass the .model.pkl nnU-Net v1 wrote next to the checkpoint');
  const init = get(info, 'init');
  const stages = get(plans, 'plans_per_stage');
  if (!(stages instanceof Map) || stages.size === 0) throw MtDataError.about(pklPath, 'has no plans_per_stage', 'Pass the .model.pkl nnU-Net v1 wrote next to the checkpoint');
  const stageIndex = Array.isArray(init) && typeof init[5] === 'number' ? init[5] : Math.max(...[...stages.keys()].map(Number));
  const stage = stages.get(stageIndex);
  if (!(stage instanceof Map)) throw MtDataError.about(pklPath, `plans_per_stage has no stage ${stageIndex}`, 'Pass the .model.pkl nnU-Net v1 wrote next to the checkpoint');
  const sKey = `plans.plans_per_stage[${stageIndex}]`;
  const patch = vec3(pklPath, `${sKey}.patch_size`, get(stage, 'patch_size'), true);
  const spacing = vec3(pklPath, `${sKey}.current_spacing`, get(stage, 'current_spacing'), false);
  const poolsV = get(stage, 'pool_op_kernel_sizes');
  const kernelsV = get(stage, 'conv_kernel_sizes');
  if (!Array.isArray(poolsV) || !Array.isArray(kernelsV) || kernelsV.length !== poolsV.length + 1) {
    throw MtDataError.about(pklPath, `${sKey} lacks pool_op_kernel_sizes or conv_kernel_sizes (one more kernel than pools)`, 'Pass the .model.pkl nnU-Net v1 wrote next to the checkpoint');
  }
  const pools = poolsV.map((p, i) => vec3(pklPath, `${sKey}.pool_op_kernel_sizes[${i}]`, p, true));
  const kernels = kernelsV.map((k, i) => vec3(pklPath, `${sKey}.conv_kernel_sizes[${i}]`, k, true));
  kernels.forEach((k, i) => {
    if (k.some((v) => v !== 1 && v !== 3)) throw MtDataError.about(pklPath, `${sKey}.conv_kernel_sizes[${i}] is [${k.join(', ')}]; mtc builds kernels of 1 or 3 per axis`, 'See docs/models.md for what is supported');
  });
  const base = num(get(plans, 'base_num_features'));
  if (base === undefined || !Number.isInteger(base) || base < 1) throw MtDataError.about(pklPath, 'plans.base_num_features is missing', 'Pass the .model.pkl nnU-Net v1 wrote next to the checkpoint');
  const convPerStage = num(get(plans, 'conv_per_stage')) ?? 2;
  if (convPerStage !== 2) throw MtDataError.about(pklPath, `plans.conv_per_stage is ${convPerStage}; mtc's U-Net has two convolutions per stage`, 'See docs/models.md for what is supported');
  const transpose = numbers(get(plans, 'transpose_forward'));
  if (transpose && transpose.join(',') !== '0,1,2') throw MtDataError.about(pklPath, `plans.transpose_forward is [${transpose.join(', ')}]: the network sees the axes permuted, which mtc does not support`, 'See docs/models.md for what is supported');
  const schemes = get(plans, 'normalization_schemes');
  if (get(schemes, 0) !== 'CT' || (schemes instanceof Map && schemes.size !== 1)) throw MtDataError.about(pklPath, `plans.normalization_schemes is not {0: 'CT'}; mtc imports single-channel CT models`, 'See docs/models.md for what is supported');
  const props = get(get(get(plans, 'dataset_properties'), 'intensityproperties'), 0);
  const norm = { mean: num(get(props, 'mean')), std: num(get(props, 'sd')), p005: num(get(props, 'percentile_00_5')), p995: num(get(props, 'percentile_99_5')) };
  if (Object.values(norm).some((v) => v === undefined)) throw MtDataError.about(pklPath, 'plans.dataset_properties.intensityproperties[0] lacks mean, sd or the 0.5/99.5 percentiles', 'Pass the .model.pkl nnU-Net v1 wrote next to the checkpoint');

  const n = kernels.length;
  const features: number[] = [];
  for (let i = 0, f = base; i < n; i++, f = Math.min(Math.round(f * 2), MAX_FEATURES_3D)) features.push(f);
  const reserved = options.reserved ?? [];
  const multitalent = /multitalent/i.test(trainer);
  if (!multitalent && /region/i.test(trainer)) {
    throw MtDataError.about(pklPath, `trainer '${trainer}' trains region outputs whose definition lives in its code, which mtc does not know`, 'mtc imports nnUNetTrainerV2 models (softmax) and the MultiTalent trainers (47 region outputs); see docs/models.md');
  }

  // The checkpoints: the network class and its output count from the weights themselves.
  const loaded = [];
  for (const f of files) {
    const tf = await readTorchFile(f.file, { select: (v) => get(v, 'state_dict') });
    const sd = get(tf.value, 'state_dict');
    if (!(sd instanceof Map)) throw MtDataError.about(f.file, "has no 'state_dict' (what nnU-Net v1 saves)", 'Pass a model_final_checkpoint.model nnU-Net v1 wrote');
    loaded.push({ ...f, tf, sd: sd as PyDict });
  }
  const sd0 = loaded[0].sd;
  if (![...sd0.keys()].some((k) => String(k).replace(/^module\./, '').startsWith('conv_blocks_context.'))) {
    throw MtDataError.about(first.file, `holds the weights of a network other than Generic_UNet (first key '${String([...sd0.keys()][0])}', trainer '${trainer}')`, 'mtc imports nnU-Net v1\'s Generic_UNet; residual v1 networks (FabiansUNet, MultiTalent_meets_resenc) are not supported');
  }
  const seg = sd0.get(`seg_outputs.${n - 2}.weight`) ?? sd0.get(`module.seg_outputs.${n - 2}.weight`);
  if (!(seg instanceof TensorRef)) throw MtDataError.about(first.file, `lacks 'seg_outputs.${n - 2}.weight' (Generic_UNet with ${n} stages has it)`, 'The checkpoint does not belong to these plans: pass the .model.pkl saved with it');
  const outputs = seg.shape[0];

  let heads: HeadSpec[];
  let datasets: ImportedDataset[];
  let activation: 'sigmoid' | 'softmax';
  if (multitalent) {
    if (outputs !== MULTITALENT_V1_OUTPUTS.length) {
      throw MtDataError.about(first.file, `has ${outputs} outputs, but MultiTalent's released models have ${MULTITALENT_V1_OUTPUTS.length} (one per region of the collection)`, 'mtc knows the class table of the published MultiTalent models only; see docs/models.md');
    }
    activation = 'sigmoid';
    heads = MULTITALENT_V1_OUTPUTS.map((o) => ({ dataset: o.dataset, name: o.class, labels: [...o.labels] }));
    const byDataset = new Map<string, ImportedDataset>();
    for (const o of MULTITALENT_V1_OUTPUTS) {
      const d = byDataset.get(o.dataset) ?? { name: o.dataset, root: '', labels: {}, classes: [], cases: null, stdlib: MULTITALENT_STDLIB };
      d.classes.push({ name: o.class, labels: [...o.labels], tags: [...o.tags] });
      byDataset.set(o.dataset, d);
    }
    datasets = [...byDataset.values()];
  } else {
    activation = 'softmax';
    const task = basename(dirname(dirname(first.file)));
    const name = identifier(task.replace(/^Task\d+_/, ''), reserved, 'dataset');
    const classes = Array.from({ length: outputs - 1 }, (_, i) => ({ name: `label_${i + 1}`, labels: [i + 1], tags: [] }));
    heads = [{ dataset: name, name: 'background', labels: [0] }, ...classes.map((c) => ({ dataset: name, name: c.name, labels: [...c.labels] }))];
    const labels: Record<string, number> = { background: 0 };
    for (const c of classes) labels[c.name] = c.labels[0];
    datasets = [{ name, root: task.replace(/^Task(\d+)_/, 'Dataset$1_'), labels, classes, cases: null, stdlib: null }];
  }
  const architecture: ArchitectureSpec = {
    name: identifier(multitalent ? 'multitalent_v1_unet' : `${datasets[0].name}_v1_unet`, reserved, 'imported'),
    kind: 'unet',
    patch,
    features,
    strides: [[1, 1, 1], ...pools],
    convsPerStage: 2,
    kernels,
    deepSupervision: true,
    spacing,
    layers: { padding: 'symmetric', residualSkip: 'strided_conv', convBias: true, upsampleBias: false, headBias: false, decoderKernels: 'deeper' },
  };
  try {
    validateArchitecture(architecture);
  } catch (e) {
    throw MtDataError.about(pklPath, `${sKey} describes a network mtc cannot build: ${(e as Error).message}`, 'See docs/models.md for what is supported');
  }
  const folds: ImportedFold[] = [];
  for (const l of loaded) {
    const mapped = mapStateDict(l.tf, l.sd, "'state_dict'", architecture, heads.length, v1TorchName(architecture), 'Generic_UNet');
    if (l.tf.value instanceof Map) {
      for (const k of l.tf.value.keys()) if (k !== 'state_dict') mapped.report.skipped.push({ torch: String(k), reason: 'training state (optimiser, losses, epoch), not network weights' });
    }
    folds.push({ fold: l.fold, file: l.file, weights: mapped.weights, mapping: mapped.report });
  }
  const notes = multitalent
    ? ['MultiTalent reoriented its training scans to RAS, as mtc does with every scan, so the voxel order agrees.', 'The 47 outputs are the classes of the paper\'s 13 datasets, declared in std/datasets/multitalent (their source label values).']
    : ['nnU-Net v1 read the training images in their stored order; mtc reorients every scan to RAS+ first. Both agree for scans stored in RAS.', 'nnU-Net v1 model folders do not name the labels: the classes are label_1 .. label_N; rename them in the generated .mt.'];
  return {
    source: { format: 'nnunet-v1', path: dirname(dirname(first.file)), network: 'Generic_UNet', trainer, configuration: `stage ${stageIndex}`, serialisation: loaded[0].tf.format },
    architecture,
    heads,
    activation,
    datasets,
    preprocessing: {
      spacing,
      normalization: { mean: norm.mean!, std: norm.std!, p005: norm.p005!, p995: norm.p995! },
      nnunetVoxelOrder: multitalent ? 'ras' : 'stored',
      imageInterpolation: 3,
    },
    mirror: true,
    notes,
    folds,
  };
}
