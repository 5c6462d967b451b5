/**
 * nnU-Net v2 trained-model folders: `plans.json`, `dataset.json` and `fold_K/checkpoint_final.pth`
 * (or `checkpoint_best.pth`), for the PlainConvUNet and ResidualEncoderUNet of nnU-Net's plans
 * (dynamic-network-architectures), in both plans formats (`architecture.arch_kwargs`, and the older
 * `UNet_class_name` fields nnU-Net converts the same way).
 *
 * State-dict names (s: encoder stage, j: conv, b: block; decoder stage d = 0 at the lowest resolution):
 *   PlainConvUNet   encoder.stages.{s}.0.convs.{j}.conv.{weight,bias}, .norm.{weight,bias}
 *   ResEncUNet      encoder.stem.convs.0.conv/norm, encoder.stages.{s}.blocks.{b}.conv1.conv/norm,
 *                   .conv2.conv/norm, .skip.{0|1}.conv.weight/.norm (1 after an AvgPool3d at 0)
 *   both            decoder.transpconvs.{d}.{weight,bias}, decoder.stages.{d}.convs.{j}.conv/norm,
 *                   decoder.seg_layers.{d}.{weight,bias}
 *   aliases         every `conv`/`norm` again as `all_modules.0`/`all_modules.1`, the whole encoder
 *                   again under `decoder.encoder.` (the decoder keeps a reference to it)
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ArchitectureSpec, HeadSpec, LayerConventions, Vec3 } from '../../graph/types.js';
import { MtDataError } from '../data/errors.js';
import { validateArchitecture } from '../model/registry.js';
import { mapStateDict, type TorchName } from './mapping.js';
import { type ImportedDataset, type ImportedFold, type ImportedModel, identifier, uniqueNames } from './model.js';
import type { PyDict } from './pickle.js';
import { readTorchFile } from './torch-file.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObj = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

async function readJson(path: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw MtDataError.about(path, 'is missing', 'An nnU-Net v2 model folder holds plans.json, dataset.json and fold_*/checkpoint_final.pth: pass that folder');
  }
  let v: Json;
  try {
    v = JSON.parse(text) as Json;
  } catch (e) {
    throw MtDataError.about(path, `is not valid JSON (${(e as Error).message})`, 'Copy it again from the model folder');
  }
  if (!isObj(v)) throw MtDataError.about(path, 'is not a JSON object', 'Copy it again from the model folder');
  return v;
}

/** A refusal about a plans key (named as a path into the file). */
function planError(path: string, key: string, what: string, todo = 'mtc imports the 3D PlainConvUNet and ResidualEncoderUNet of nnU-Net\'s standard plans; see docs/models.md'): MtDataError {
  return MtDataError.about(path, `${key} ${what}`, todo);
}

function vec3(path: string, key: string, v: Json | undefined, integer: boolean): Vec3 {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && x > 0 && (!integer || Number.isInteger(x)))) {
    throw planError(path, key, `is ${JSON.stringify(v)}, not three positive ${integer ? 'integers' : 'numbers'} (a 3D configuration)`, 'mtc imports 3D configurations (3d_fullres, 3d_lowres); 2D ones are not supported');
  }
  return [v[0], v[1], v[2]] as Vec3;
}

function vec3List(path: string, key: string, v: Json | undefined, n: number): Vec3[] {
  const list = typeof v === 'number' ? Array.from({ length: n }, () => [v, v, v]) : v;
  if (!Array.isArray(list) || list.length !== n) throw planError(path, key, `has ${Array.isArray(list) ? list.length : 'no'} entries, expected one per stage (${n})`);
  return list.map((x, i) => vec3(path, `${key}[${i}]`, typeof x === 'number' ? [x, x, x] : x, true));
}

function intList(path: string, key: string, v: Json | undefined, n: number): number[] {
  const list = typeof v === 'number' ? Array.from({ length: n }, () => v) : v;
  if (!Array.isArray(list) || list.length !== n || !list.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) {
    throw planError(path, key, `is ${JSON.stringify(v)}, expected ${n} positive integers`);
  }
  return list as number[];
}

/** The configuration with its `inherits_from` chain resolved (nnU-Net's rule: the child's keys win). */
function resolveConfiguration(path: string, plans: JsonObject, name: string, seen: string[] = []): JsonObject {
  const configs = plans.configurations;
  if (!isObj(configs) || !isObj(configs[name])) {
    throw planError(path, `configurations.${name}`, 'does not exist', `Pass the model folder of a configuration the plans define (${isObj(configs) ? Object.keys(configs).join(', ') : 'none'})`);
  }
  const c = configs[name] as JsonObject;
  const parent = c.inherits_from;
  if (typeof parent !== 'string') return { ...c };
  if (seen.includes(parent)) throw planError(path, `configurations.${name}.inherits_from`, `loops (${[...seen, name, parent].join(' -> ')})`);
  return { ...resolveConfiguration(path, plans, parent, [...seen, name]), ...c };
}

export interface V2Architecture {
  network: 'PlainConvUNet' | 'ResidualEncoderUNet';
  features: number[];
  kernels: Vec3[];
  strides: Vec3[];
  convsPerStage: number;
  blocks: number[] | null;
  layers: LayerConventions;
}

const PLAIN_KWARGS = ['n_stages', 'features_per_stage', 'conv_op', 'kernel_sizes', 'strides', 'n_conv_per_stage', 'n_conv_per_stage_decoder', 'conv_bias', 'norm_op', 'norm_op_kwargs', 'dropout_op', 'dropout_op_kwargs', 'nonlin', 'nonlin_kwargs', 'deep_supervision', 'nonlin_first'];
const RESENC_KWARGS = ['n_stages', 'features_per_stage', 'conv_op', 'kernel_sizes', 'strides', 'n_blocks_per_stage', 'n_conv_per_stage_decoder', 'conv_bias', 'norm_op', 'norm_op_kwargs', 'dropout_op', 'dropout_op_kwargs', 'nonlin', 'nonlin_kwargs', 'deep_supervision', 'block', 'bottleneck_channels', 'stem_channels'];

/** The network of a configuration, from `architecture` (current plans) or the older fields. */
export function v2Architecture(path: string, config: JsonObject, key: string): V2Architecture {
  let className: string;
  let kw: JsonObject;
  let kwKey: string;
  if (isObj(config.architecture)) {
    const a = config.architecture;
    className = typeof a.network_class_name === 'string' ? a.network_class_name : '';
    if (!isObj(a.arch_kwargs)) throw planError(path, `${key}.architecture.arch_kwargs`, 'is missing');
    kw = a.arch_kwargs;
    kwKey = `${key}.architecture.arch_kwargs`;
  } else if (typeof config.UNet_class_name === 'string') {
    // nnU-Net before 2.4: the same network, described by these fields (converted as nnU-Net does).
    className = config.UNet_class_name;
    const n = Array.isArray(config.n_conv_per_stage_encoder) ? config.n_conv_per_stage_encoder.length : 0;
    const base = config.UNet_base_num_features;
    const max = config.unet_max_num_features;
    if (typeof base !== 'number' || typeof max !== 'number') throw planError(path, `${key}.UNet_base_num_features`, 'or unet_max_num_features is missing');
    kw = {
      n_stages: n,
      features_per_stage: Array.from({ length: n }, (_, i) => Math.min(base * 2 ** i, max)),
      conv_op: 'torch.nn.modules.conv.Conv3d',
      kernel_sizes: config.conv_kernel_sizes ?? null,
      strides: config.pool_op_kernel_sizes ?? null,
      [className === 'PlainConvUNet' ? 'n_conv_per_stage' : 'n_blocks_per_stage']: config.n_conv_per_stage_encoder ?? null,
      n_conv_per_stage_decoder: config.n_conv_per_stage_decoder ?? null,
      conv_bias: true,
      norm_op: 'torch.nn.modules.instancenorm.InstanceNorm3d',
      norm_op_kwargs: { eps: 1e-5, affine: true },
      dropout_op: null,
      dropout_op_kwargs: null,
      nonlin: 'torch.nn.LeakyReLU',
      nonlin_kwargs: { inplace: true },
    };
    kwKey = key;
  } else {
    throw planError(path, `${key}.architecture`, 'is missing (neither architecture nor UNet_class_name): these are not nnU-Net v2 plans');
  }
  const short = className.split('.').pop() ?? className;
  if (short !== 'PlainConvUNet' && short !== 'ResidualEncoderUNet') {
    throw planError(path, `${key}.architecture.network_class_name`, `is '${className}', a network mtc does not build (only PlainConvUNet and ResidualEncoderUNet)`);
  }
  const network = short;
  const allowed = network === 'PlainConvUNet' ? PLAIN_KWARGS : RESENC_KWARGS;
  for (const k of Object.keys(kw)) {
    if (!allowed.includes(k)) throw planError(path, `${kwKey}.${k}`, `is a keyword of ${network} that mtc cannot build`);
  }
  const n = kw.n_stages;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) throw planError(path, `${kwKey}.n_stages`, `is ${JSON.stringify(n)}, not a stage count of at least 2`);
  const conv = String(kw.conv_op ?? '');
  if (!/(^|\.)Conv3d$/.test(conv)) throw planError(path, `${kwKey}.conv_op`, `is '${conv}': mtc imports 3D networks only`);
  const features = intList(path, `${kwKey}.features_per_stage`, kw.features_per_stage, n);
  const kernels = vec3List(path, `${kwKey}.kernel_sizes`, kw.kernel_sizes, n);
  kernels.forEach((k, i) => {
    if (k.some((v) => v !== 1 && v !== 3)) throw planError(path, `${kwKey}.kernel_sizes[${i}]`, `is [${k.join(', ')}]; mtc builds kernels of 1 or 3 per axis`);
  });
  const strides = vec3List(path, `${kwKey}.strides`, kw.strides, n);
  if (strides[0].some((s) => s !== 1)) throw planError(path, `${kwKey}.strides[0]`, `is [${strides[0].join(', ')}]; the first stage must not downsample`);
  const decoder = intList(path, `${kwKey}.n_conv_per_stage_decoder`, kw.n_conv_per_stage_decoder, n - 1);
  let convsPerStage: number;
  let blocks: number[] | null = null;
  if (network === 'PlainConvUNet') {
    const enc = intList(path, `${kwKey}.n_conv_per_stage`, kw.n_conv_per_stage, n);
    if (!enc.every((v) => v === 2) || !decoder.every((v) => v === 2)) {
      throw planError(path, `${kwKey}.n_conv_per_stage`, `and n_conv_per_stage_decoder are [${enc.join(', ')}] and [${decoder.join(', ')}]; mtc's U-Net has two convolutions per stage`);
    }
    convsPerStage = 2;
    if (kw.nonlin_first === true) throw planError(path, `${kwKey}.nonlin_first`, 'is true (conv -> nonlin -> norm), which mtc does not build');
  } else {
    blocks = intList(path, `${kwKey}.n_blocks_per_stage`, kw.n_blocks_per_stage, n);
    if (!decoder.every((v) => v === 1)) throw planError(path, `${kwKey}.n_conv_per_stage_decoder`, `is [${decoder.join(', ')}]; mtc's residual-encoder U-Net has one convolution per decoder stage`);
    convsPerStage = 1;
    const block = kw.block;
    if (block !== undefined && block !== null && !/(^|\.)BasicBlockD$/.test(String(block))) throw planError(path, `${kwKey}.block`, `is '${String(block)}'; mtc builds BasicBlockD residual blocks only`);
    if (kw.bottleneck_channels !== undefined && kw.bottleneck_channels !== null) throw planError(path, `${kwKey}.bottleneck_channels`, 'is set (bottleneck blocks), which mtc does not build');
    if (kw.stem_channels !== undefined && kw.stem_channels !== null && kw.stem_channels !== features[0]) throw planError(path, `${kwKey}.stem_channels`, `is ${JSON.stringify(kw.stem_channels)}; mtc's stem has features_per_stage[0] (${features[0]}) channels`);
  }
  if (!/(^|\.)InstanceNorm3d$/.test(String(kw.norm_op ?? ''))) throw planError(path, `${kwKey}.norm_op`, `is '${String(kw.norm_op)}'; mtc builds InstanceNorm3d only`);
  const norm = isObj(kw.norm_op_kwargs) ? kw.norm_op_kwargs : {};
  for (const [k, v] of Object.entries(norm)) {
    if (k === 'eps' && v === 1e-5) continue;
    if (k === 'affine' && v === true) continue;
    if (k === 'momentum') continue; // unused without running statistics
    if (k === 'track_running_stats' && v === false) continue;
    throw planError(path, `${kwKey}.norm_op_kwargs.${k}`, `is ${JSON.stringify(v)}; mtc's InstanceNorm has eps 1e-5, an affine transform and no running statistics`);
  }
  if (norm.affine !== true) throw planError(path, `${kwKey}.norm_op_kwargs.affine`, 'is not true; mtc\'s InstanceNorm has an affine transform');
  if (kw.dropout_op !== null && kw.dropout_op !== undefined) throw planError(path, `${kwKey}.dropout_op`, `is '${String(kw.dropout_op)}'; mtc's networks have no dropout`);
  if (!/(^|\.)LeakyReLU$/.test(String(kw.nonlin ?? ''))) throw planError(path, `${kwKey}.nonlin`, `is '${String(kw.nonlin)}'; mtc builds LeakyReLU(0.01) only`);
  const nonlin = isObj(kw.nonlin_kwargs) ? kw.nonlin_kwargs : {};
  for (const [k, v] of Object.entries(nonlin)) {
    if (k === 'inplace') continue;
    if (k === 'negative_slope' && v === 0.01) continue;
    throw planError(path, `${kwKey}.nonlin_kwargs.${k}`, `is ${JSON.stringify(v)}; mtc's LeakyReLU has slope 0.01`);
  }
  const convBias = kw.conv_bias === true;
  return {
    network,
    features,
    kernels,
    strides,
    convsPerStage,
    blocks,
    layers: { padding: 'symmetric', residualSkip: network === 'ResidualEncoderUNet' ? 'avgpool_conv' : 'strided_conv', convBias, upsampleBias: convBias, headBias: true, decoderKernels: 'stage' },
  };
}

/** mtc parameter name -> state-dict key, for nnU-Net v2's networks (see the module doc). */
export function v2TorchName(arch: ArchitectureSpec): TorchName {
  const n = arch.features.length;
  const unit = (prefix: string, rest: string): string => {
    const [layer, param] = rest.split('.');
    const torchParam = param === 'scale' ? 'weight' : param === 'offset' ? 'bias' : param;
    return `${prefix}.${layer.startsWith('norm') ? 'norm' : 'conv'}.${torchParam}`;
  };
  return (name) => {
    let m: RegExpExecArray | null;
    if ((m = /^stem\.(conv|norm)\.(\w+)$/.exec(name))) return unit('encoder.stem.convs.0', `${m[1]}.${m[2]}`);
    if ((m = /^enc(\d+)\.(conv|norm)(\d+)\.(\w+)$/.exec(name))) return unit(`encoder.stages.${m[1]}.0.convs.${m[3]}`, `${m[2]}.${m[4]}`);
    if ((m = /^enc(\d+)\.block(\d+)\.(conv|norm)([12])\.(\w+)$/.exec(name))) return unit(`encoder.stages.${m[1]}.blocks.${m[2]}.conv${m[4]}`, `${m[3]}.${m[5]}`);
    if ((m = /^enc(\d+)\.block(\d+)\.(skip|skip_norm)\.(\w+)$/.exec(name))) {
      const i = Number(m[1]);
      const strided = arch.strides[i].some((s) => s !== 1);
      return unit(`encoder.stages.${i}.blocks.${m[2]}.skip.${strided ? 1 : 0}`, `${m[3] === 'skip' ? 'conv' : 'norm'}.${m[4]}`);
    }
    if ((m = /^dec(\d+)\.up\.(\w+)$/.exec(name))) return `decoder.transpconvs.${n - 2 - Number(m[1])}.${m[2]}`;
    if ((m = /^dec(\d+)\.(conv|norm)(\d+)\.(\w+)$/.exec(name))) return unit(`decoder.stages.${n - 2 - Number(m[1])}.convs.${m[3]}`, `${m[2]}.${m[4]}`);
    if ((m = /^head\.(weight|bias)$/.exec(name))) return `decoder.seg_layers.${n - 2}.${m[1]}`;
    if ((m = /^head\.ds(\d+)\.(weight|bias)$/.exec(name))) return `decoder.seg_layers.${n - 2 - Number(m[1])}.${m[2]}`;
    throw new Error(`internal: no nnU-Net v2 name for mtc parameter '${name}'`);
  };
}

interface V2Labels {
  activation: 'sigmoid' | 'softmax';
  /** Output channels: [name, label values]. */
  channels: { name: string; labels: number[] }[];
  labels: Record<string, number>;
  classes: { name: string; labels: number[] }[];
}

/** The output channels of dataset.json's labels (nnU-Net's LabelManager: regions give sigmoid outputs). */
export function v2Labels(path: string, datasetJson: JsonObject): V2Labels {
  const labels = datasetJson.labels;
  if (!isObj(labels)) throw MtDataError.about(path, 'has no labels', 'Pass the dataset.json saved with the model');
  const entries = Object.entries(labels).filter(([k]) => k !== 'ignore');
  const regions = entries.some(([, v]) => Array.isArray(v));
  const values = (k: string, v: Json): number[] => {
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255)) throw MtDataError.about(path, `labels.${k} is ${JSON.stringify(v)}, not label values 0-255`, 'Pass the dataset.json saved with the model');
    return list as number[];
  };
  const fg = entries.filter(([k]) => k !== 'background');
  if (fg.length === 0) throw MtDataError.about(path, 'declares no foreground labels', 'Pass the dataset.json saved with the model');
  const classes = fg.map(([k, v]) => ({ name: k, labels: values(k, v) }));
  if (regions) {
    if (!Array.isArray(datasetJson.regions_class_order)) throw MtDataError.about(path, 'declares regions but no regions_class_order', 'Pass the dataset.json saved with the model');
    return { activation: 'sigmoid', channels: classes, labels: {}, classes };
  }
  const plain: Record<string, number> = {};
  for (const [k, v] of entries) plain[k] = values(k, v)[0];
  const bg = plain.background ?? 0;
  const channels = [{ name: 'background', labels: [bg] }, ...classes];
  const sorted = channels.map((c) => c.labels[0]);
  if (sorted.some((v, i) => v !== i)) throw MtDataError.about(path, `labels must be the consecutive values 0..${channels.length - 1} (nnU-Net's rule), found ${sorted.join(', ')}`, 'Pass the dataset.json saved with the model');
  return { activation: 'softmax', channels, labels: plain, classes };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** The checkpoint files of a v2 model folder, per fold (`which`: final or best). */
export async function v2CheckpointFiles(modelDir: string, which: 'final' | 'best'): Promise<{ fold: number | null; file: string }[]> {
  const out: { fold: number | null; file: string }[] = [];
  const names = (await readdir(modelDir)).filter((n) => /^fold_(\d+|all)$/.test(n)).sort();
  for (const n of names) {
    const file = join(modelDir, n, `checkpoint_${which}.pth`);
    if (await exists(file)) out.push({ fold: n === 'fold_all' ? null : Number(n.slice(5)), file });
  }
  return out;
}

export interface V2ImportOptions {
  /** Words a `.mt` identifier cannot be (the language's keywords). */
  reserved?: readonly string[];
}

/** Imports the given checkpoints of one v2 model folder (all folds found when `files` is empty). */
export async function importV2(modelDir: string, files: { fold: number | null; file: string }[], options: V2ImportOptions = {}): Promise<ImportedModel> {
  const plansPath = join(modelDir, 'plans.json');
  const datasetPath = join(modelDir, 'dataset.json');
  const plans = await readJson(plansPath);
  const datasetJson = await readJson(datasetPath);
  const folder = basename(modelDir);
  const parts = folder.split('__');
  const trainer = parts.length === 3 ? parts[0] : 'nnUNetTrainer';
  const configuration = parts.length === 3 ? parts[2] : '3d_fullres';
  const config = resolveConfiguration(plansPath, plans, configuration);
  const cKey = `configurations.${configuration}`;
  const patch = vec3(plansPath, `${cKey}.patch_size`, config.patch_size, true);
  const spacing = vec3(plansPath, `${cKey}.spacing`, config.spacing, false);
  const net = v2Architecture(plansPath, config, cKey);
  if (Array.isArray(plans.transpose_forward) && plans.transpose_forward.join(',') !== '0,1,2') {
    throw planError(plansPath, 'transpose_forward', `is [${plans.transpose_forward.join(', ')}]: the network sees the axes permuted, which mtc does not support`, 'Import a model whose plans keep the axis order (transpose_forward [0, 1, 2], as for most CT datasets)');
  }
  const channels = datasetJson.channel_names ?? datasetJson.modality;
  if (!isObj(channels) || Object.keys(channels).length !== 1) throw MtDataError.about(datasetPath, `channel_names is ${JSON.stringify(channels)}; mtc imports single-channel CT models`, 'See docs/models.md for what is supported');
  const schemes = config.normalization_schemes;
  if (!Array.isArray(schemes) || schemes.length !== 1 || schemes[0] !== 'CTNormalization') {
    throw planError(plansPath, `${cKey}.normalization_schemes`, `is ${JSON.stringify(schemes)}; mtc normalises CT only (CTNormalization)`);
  }
  if (Array.isArray(config.use_mask_for_norm) && config.use_mask_for_norm[0] === true) throw planError(plansPath, `${cKey}.use_mask_for_norm`, 'is [true]; CT normalisation in mtc uses the whole image');
  const props = isObj(plans.foreground_intensity_properties_per_channel) ? plans.foreground_intensity_properties_per_channel['0'] : undefined;
  if (!isObj(props) || ![props.mean, props.std, props.percentile_00_5, props.percentile_99_5].every((v) => typeof v === 'number')) {
    throw planError(plansPath, 'foreground_intensity_properties_per_channel.0', 'lacks mean, std, percentile_00_5 or percentile_99_5 (the CT normalisation statistics)');
  }
  const reserved = options.reserved ?? [];
  const datasetFolder = typeof plans.dataset_name === 'string' ? plans.dataset_name : basename(dirname(modelDir));
  const rawName = typeof datasetJson.name === 'string' && datasetJson.name.trim() !== '' ? datasetJson.name : datasetFolder.replace(/^Dataset\d+_/, '');
  const dsName = identifier(rawName, reserved, 'dataset');
  const lab = v2Labels(datasetPath, datasetJson);
  const classNames = uniqueNames(lab.classes.map((c) => identifier(c.name, reserved, 'class')));
  const channelNames = lab.activation === 'softmax' ? ['background', ...classNames] : classNames;
  const heads: HeadSpec[] = lab.channels.map((c, i) => ({ dataset: dsName, name: channelNames[i], labels: [...c.labels] }));
  const labelNames: Record<string, number> = {};
  if (lab.activation === 'softmax') {
    labelNames.background = lab.labels.background ?? 0;
    lab.classes.forEach((c, i) => (labelNames[classNames[i]] = c.labels[0]));
  }
  const dataset: ImportedDataset = {
    name: dsName,
    root: datasetFolder,
    labels: labelNames,
    classes: lab.classes.map((c, i) => ({ name: classNames[i], labels: [...c.labels], tags: [] })),
    cases: typeof datasetJson.numTraining === 'number' ? datasetJson.numTraining : null,
    stdlib: null,
  };
  const architecture: ArchitectureSpec = {
    name: identifier(`${dsName}_${configuration}`, reserved, 'imported'),
    kind: net.network === 'PlainConvUNet' ? 'unet' : 'resenc_unet',
    patch,
    features: net.features,
    strides: net.strides,
    convsPerStage: net.convsPerStage,
    kernels: net.kernels,
    ...(net.blocks ? { blocksPerStage: net.blocks } : {}),
    deepSupervision: true,
    spacing,
    layers: net.layers,
  };
  try {
    validateArchitecture(architecture);
  } catch (e) {
    throw planError(plansPath, cKey, `describes a network mtc cannot build: ${(e as Error).message}`);
  }
  const found = files.length > 0 ? files : await v2CheckpointFiles(modelDir, 'final');
  if (found.length === 0) throw MtDataError.about(modelDir, 'holds no fold_*/checkpoint_final.pth', 'Pass the model folder of a finished training, or a checkpoint file (checkpoint_best.pth) directly');
  const folds: ImportedFold[] = [];
  let serialisation: 'zip' | 'legacy' = 'zip';
  let mirror = !/NoMirroring/i.test(trainer);
  for (const f of found) {
    const tf = await readTorchFile(f.file, { select: (v) => (v instanceof Map ? v.get('network_weights') : undefined) });
    serialisation = tf.format;
    const top = tf.value;
    if (!(top instanceof Map)) throw MtDataError.about(f.file, 'does not hold a dict', 'Pass a checkpoint nnU-Net v2 wrote (checkpoint_final.pth)');
    const sd = top.get('network_weights');
    if (!(sd instanceof Map)) throw MtDataError.about(f.file, "has no 'network_weights' (the state dict nnU-Net v2 saves)", 'Pass a checkpoint nnU-Net v2 wrote (checkpoint_final.pth), not a v1 .model file');
    const mapped = mapStateDict(tf, sd as PyDict, "'network_weights'", architecture, heads.length, v2TorchName(architecture), net.network);
    // nnU-Net mirrors at inference along the axes training mirrored (none, or some: mtc mirrors all three or none).
    const axes = top.get('inference_allowed_mirroring_axes');
    if (axes === null || (Array.isArray(axes) && axes.length < 3)) mirror = false;
    for (const k of top.keys()) {
      if (k !== 'network_weights') mapped.report.skipped.push({ torch: String(k), reason: 'training state (optimiser, logging, trainer arguments), not network weights' });
    }
    folds.push({ fold: f.fold, file: f.file, weights: mapped.weights, mapping: mapped.report });
  }
  const reader = String(datasetJson.overwrite_image_reader_writer ?? plans.image_reader_writer ?? 'SimpleITKIO');
  const notes: string[] = [];
  if (!mirror) notes.push('nnU-Net trained this model without mirroring on every axis, so it predicts without test-time mirroring (plans.json inference.mirror false).');
  const voxelOrder = /WithReorient/.test(reader) ? 'ras' : 'stored';
  if (voxelOrder === 'stored') {
    notes.push(
      `nnU-Net read the training images with ${reader}, in the order they are stored; mtc reorients every scan to RAS+ first. Both agree for scans stored in RAS (most CT exports; TotalSegmentator reorients its inputs to RAS); for scans stored otherwise, left and right classes may swap.`,
    );
  }
  return {
    source: { format: 'nnunet-v2', path: modelDir, network: net.network, trainer, configuration, serialisation },
    architecture,
    heads,
    activation: lab.activation,
    datasets: [dataset],
    preprocessing: {
      spacing,
      normalization: { mean: props.mean as number, std: props.std as number, p005: props.percentile_00_5 as number, p995: props.percentile_99_5 as number },
      nnunetVoxelOrder: voxelOrder,
      imageInterpolation: 3,
    },
    mirror,
    notes,
    folds,
  };
}
