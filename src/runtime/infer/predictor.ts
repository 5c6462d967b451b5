/**
 * The predictor: a trained model (plans + folds) applied to new scans, from file to files.
 *
 * Per input: preprocess exactly as training did (the plans' spacing, CT statistics, crop and
 * interpolation; data/preprocess/image.ts), run the sliding window over every fold
 * (sliding-window.ts), hand each class to the export step (export.ts) as soon as its group is done.
 * Progress goes out as run events, one `infer:CASE` activity per input.
 */
import { access, constants, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { MtDataError } from '../data/errors.js';
import { preprocessImageFile } from '../data/preprocess/image.js';
import type { RunEvents } from '../events.js';
import { tempSibling, writeFileAtomic } from '../io/atomic.js';
import { formatBytes } from './accumulator.js';
import { CaseWriter, type ClassStatistics } from './export.js';
import { type InferenceModel, type LoadedNetwork, buildNetworks, outputOf } from './model-source.js';
import type { CheckpointOutput } from '../model/checkpoint.js';
import { type ModelPlans, type PlansHead, statisticsFor } from './plans.js';
import { colourHex } from './preview.js';
import { type OutputActivation, type SlidingWindowReport, slidingWindow } from './sliding-window.js';

export interface InferInput {
  /** Case identifier: the file name without `.nii.gz`/`.nii` and a trailing `_0000`. */
  id: string;
  path: string;
}

const ENDINGS = ['.nii.gz', '.nii'];

function stripEnding(name: string): string | null {
  const e = ENDINGS.find((x) => name.endsWith(x));
  return e ? name.slice(0, -e.length) : null;
}

/**
 * The inputs of `mtc infer -i PATH`: one NIfTI file, or every NIfTI file of a folder (nnU-Net's
 * `CASE_0000.nii.gz` or plain `CASE.nii.gz` names). Other channels (`_0001`, ...) and two files of
 * one case are refused.
 */
export async function listInferInputs(path: string): Promise<InferInput[]> {
  let s;
  try {
    s = await stat(path);
  } catch {
    throw MtDataError.about(path, 'does not exist', 'Pass a NIfTI file (.nii.gz or .nii) or a folder of them with -i');
  }
  const one = (p: string): InferInput | null => {
    const stem = stripEnding(basename(p));
    if (stem === null) return null;
    const m = /^(.+)_(\d{4})$/.exec(stem);
    if (m && m[2] !== '0000') {
      throw MtDataError.about(p, `is channel ${m[2]} of case '${m[1]}', but the model reads one CT channel (_0000)`, 'Pass only the CT images (CASE_0000.nii.gz or CASE.nii.gz)');
    }
    return { id: m ? m[1] : stem, path: p };
  };
  if (s.isFile()) {
    const i = one(path);
    if (!i) throw MtDataError.about(path, 'is not a NIfTI file (.nii.gz or .nii)', 'Convert it to NIfTI first (e.g. dcm2niix for DICOM)');
    return [i];
  }
  const names = (await readdir(path)).filter((n) => !n.startsWith('.')).sort();
  const inputs: InferInput[] = [];
  for (const n of names) {
    const i = one(join(path, n));
    if (i) inputs.push(i);
  }
  if (inputs.length === 0) throw MtDataError.about(path, 'holds no NIfTI files (.nii.gz or .nii)', 'Pass a folder of CT images, e.g. imagesTs/ of an nnU-Net dataset');
  const seen = new Map<string, string>();
  for (const i of inputs) {
    const prev = seen.get(i.id);
    if (prev) throw MtDataError.about(path, `holds two images of case '${i.id}': ${basename(prev)} and ${basename(i.path)}`, 'Keep one image per case');
    seen.set(i.id, i.path);
  }
  return inputs;
}

/** Makes sure `dir` can be written (creates it), before any work is done. */
export async function checkOutputFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    const probe = join(dir, `.mtc-write-test-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (e) {
    throw MtDataError.about(dir, `cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'Pick an output folder you can write to with -o');
  }
}

/** The default memory budget: half of the machine's memory. */
export function defaultMemoryBytes(): number {
  return Math.floor(totalmem() / 2);
}

/** File stems of the model's classes: the class name when names are unique, else `dataset.class`. */
export function classFileStems(heads: readonly PlansHead[]): string[] {
  const names = heads.map((h) => h.name);
  const unique = new Set(names).size === names.length;
  return heads.map((h) => (unique ? h.name : `${h.dataset}.${h.name}`));
}

/**
 * Indices of the heads selected by `classes` (`name` or `dataset.name`) and `protocol` (a dataset:
 * its classes, unless `classes` is given). Unknown or ambiguous names are refused, naming the choices.
 */
export function selectHeads(plans: ModelPlans, classes: readonly string[] | undefined, protocol: string | null | undefined): number[] {
  const heads = plans.heads;
  const all = heads.map((h) => `${h.dataset}.${h.name}`);
  if (protocol && !plans.protocols[protocol]) {
    throw new MtDataError(`--protocol ${protocol}: the model has no classes of dataset '${protocol}' (its datasets: ${Object.keys(plans.protocols).join(', ')})`);
  }
  if (!classes || classes.length === 0) {
    return heads.map((h, i) => (protocol && h.dataset !== protocol ? -1 : i)).filter((i) => i >= 0);
  }
  const out: number[] = [];
  const problems: string[] = [];
  for (const sel of classes) {
    const matches = heads.map((h, i) => (sel === `${h.dataset}.${h.name}` || sel === h.name ? i : -1)).filter((i) => i >= 0);
    if (matches.length === 0) problems.push(`'${sel}' is not a class of the model`);
    else if (matches.length > 1) problems.push(`'${sel}' is ambiguous (${matches.map((i) => all[i]).join(', ')}): write dataset.class`);
    else if (!out.includes(matches[0])) out.push(matches[0]);
  }
  if (problems.length > 0) throw new MtDataError(`--classes: ${problems.join('; ')}. The model's classes: ${all.join(', ')}`);
  return out.sort((a, b) => a - b);
}

export interface PredictOptions {
  classes?: string[];
  /** Write a label map in this dataset's protocol (regions_class_order semantics). */
  protocol?: string | null;
  /** Test-time mirroring (default: the plans', nnU-Net's true). */
  mirror?: boolean;
  stepFraction?: number;
  statistics?: boolean;
  preview?: boolean;
  /** Refuse images that do not look like CT (default true). */
  ctCheck?: boolean;
  /** Memory budget in bytes for the prediction's volumes (default half the machine's memory). */
  memoryBytes?: number;
  tilesPerBatch?: number;
  /** Builds the networks of the model's folds (default: `buildNetworks`, the project's networks). */
  createNetworks?: (model: InferenceModel) => LoadedNetwork[];
  events?: RunEvents;
  signal?: AbortSignal;
}

export interface CaseResult {
  id: string;
  input: string;
  files: string[];
  statistics: Record<string, ClassStatistics> | null;
  report: SlidingWindowReport;
  seconds: number;
}

/** A model ready to predict: networks built, classes selected, statistics chosen. */
export class Predictor {
  readonly networks: LoadedNetwork[];
  /** How the output channels become class masks (the manifest's `output`). */
  readonly output: CheckpointOutput;
  readonly activation: OutputActivation;
  /** Output channel of each of the model's classes (sigmoid), or -1 (softmax: every channel is predicted). */
  private readonly channelOf: number[];
  /** Selected heads (indices into the model's heads). */
  readonly selected: number[];
  readonly stems: string[];
  readonly normalizationFrom: string;
  /** The axes test-time mirroring flips (those the training mirrored). */
  readonly mirrorAxes: number[];
  private readonly stats: ReturnType<typeof statisticsFor>['stats'];

  constructor(
    readonly model: InferenceModel,
    readonly options: PredictOptions = {},
  ) {
    const plans = model.plans;
    if (model.folds.length === 0) throw MtDataError.about(model.origin, 'holds no folds to predict with', 'Check --folds');
    this.output = outputOf(model);
    this.activation = this.output.activation;
    const channels = model.folds[0].manifest.heads;
    this.channelOf = plans.heads.map((h) => {
      if (this.activation === 'softmax') return -1;
      const c = channels.findIndex((m) => m.dataset === h.dataset && m.name === h.name);
      if (c < 0) throw MtDataError.about(model.origin, `has no output channel for its class ${h.dataset}.${h.name}`, 'The model files do not belong together; re-export the model');
      return c;
    });
    this.selected = selectHeads(plans, options.classes, options.protocol);
    const datasets = [...new Set(this.selected.map((i) => plans.heads[i].dataset))];
    const chosen = statisticsFor(plans, options.protocol ?? (datasets.length === 1 ? datasets[0] : null));
    this.stats = chosen.stats;
    this.normalizationFrom = chosen.from;
    this.stems = classFileStems(plans.heads);
    this.mirrorAxes = plans.mirrorAxes ?? [0, 1, 2];
    this.networks = (options.createNetworks ?? buildNetworks)(model);
  }

  dispose(): void {
    for (const n of this.networks) n.dispose();
  }

  /** The classes as `dataset.class` with their preview colours (for logs). */
  legend(): string {
    return this.selected.map((i, j) => `${this.stems[i]} ${colourHex(j)}`).join(', ');
  }

  /** Predicts one input and writes its outputs under `outDir`. */
  async predictCase(input: InferInput, outDir: string): Promise<CaseResult> {
    const t0 = performance.now();
    const o = this.options;
    const plans = this.model.plans;
    const events = o.events;
    const activity = `infer:${input.id}`;
    const log = (message: string) => events?.emit({ type: 'stage-log', stage: activity, message });
    const needRaw = Boolean(o.statistics || o.preview);
    const { preprocessed, raw } = await preprocessImageFile(
      input.path,
      { spacing: plans.preprocessing.spacing, normalization: this.stats, imageOrder: plans.preprocessing.imageInterpolation },
      { keepRaw: needRaw, checkCt: o.ctCheck ?? true },
    );
    const src = preprocessed.source;
    log(`${src.canonicalShape.join('x')} voxels (${src.orientationCode}) -> cropped and resampled to ${preprocessed.shape.join('x')} at ${plans.preprocessing.spacing.join('x')} mm`);
    // softmax needs every channel for its argmax; sigmoid only the selected classes' channels
    const labels = this.output.activation === 'softmax' ? this.output.labels : null;
    const channels = labels ? labels.map((_, c) => c) : this.selected.map((i) => this.channelOf[i]);
    const classOfChannel = new Map(this.selected.map((i) => [this.channelOf[i], i]));
    const write = plans.heads.map((_, i) => this.selected.includes(i));
    const protocol = o.protocol ? plans.protocols[o.protocol] : null;
    const rank = plans.heads.map((h) => (protocol && h.dataset === o.protocol ? protocol.order.findIndex((e) => e.class === h.name) + 1 : 0));
    const value = plans.heads.map((h) => (protocol && h.dataset === o.protocol ? (protocol.order.find((e) => e.class === h.name)?.value ?? 0) : 0));
    // The case's files go to a temporary sibling folder, renamed into place when all are written:
    // an interrupted case leaves nothing half-done behind.
    const caseDir = join(outDir, input.id);
    const tmpDir = tempSibling(caseDir);
    const writer = new CaseWriter({
      dir: tmpDir,
      fileStems: this.stems,
      heads: plans.heads,
      write,
      activation: this.activation,
      channelLabels: labels ?? undefined,
      threshold: plans.threshold,
      grid: { shape: preprocessed.shape, spacing: preprocessed.spacing },
      source: src,
      geometry: preprocessed.geometry,
      protocol: protocol ? { path: join(outDir, `${input.id}.nii.gz`), value, rank } : null,
      statistics: o.statistics,
      preview: o.preview,
      raw,
    });
    const canonical = src.canonicalShape[0] * src.canonicalShape[1] * src.canonicalShape[2];
    const crop = [0, 1, 2].reduce((s, a) => s * (src.cropEnd[a] - src.cropStart[a]), 1);
    const fixedBytes =
      preprocessed.image.length * 4 + // the preprocessed image
      crop * 5 + // one class resampled back (float32) and thresholded
      canonical * 2 + // its mask in the full grid and in the file's order
      (protocol ? canonical * 2 : 0) +
      (o.preview ? canonical * 2 : 0) +
      (needRaw ? canonical * 4 : 0) +
      (this.activation === 'softmax' ? crop * 5 : 0);
    const memoryBytes = o.memoryBytes ?? defaultMemoryBytes();
    let lastRate = performance.now();
    let lastDone = 0;
    let rate: number | undefined;
    let report: SlidingWindowReport;
    let outputs: Awaited<ReturnType<CaseWriter['finish']>>;
    try {
      report = await slidingWindow(
        this.networks,
        preprocessed.image,
        preprocessed.shape,
        {
          stepFraction: o.stepFraction ?? plans.inference.stepFraction,
          gaussian: plans.inference.gaussian,
          mirror: (o.mirror ?? plans.inference.mirror) && this.mirrorAxes.length > 0,
          mirrorAxes: this.mirrorAxes,
          heads: channels,
          activation: this.activation,
          memoryBytes,
          fixedBytes,
          tilesPerBatch: o.tilesPerBatch,
          signal: o.signal,
          onProgress: (done, total) => {
            const now = performance.now();
            if (now - lastRate > 1000 && done > lastDone) {
              rate = ((done - lastDone) * 1000) / (now - lastRate);
              lastRate = now;
              lastDone = done;
            }
            events?.emit({ type: 'stage-progress', stage: activity, done, total, unit: 'tiles', rate });
          },
        },
        async (group) => {
          // sigmoid: the writer numbers classes; softmax: channels
          for (let j = 0; j < group.heads.length; j++) await writer.add(labels ? group.heads[j] : (classOfChannel.get(group.heads[j]) as number), group.probabilities[j]);
          group.probabilities.length = 0;
        },
      );
      outputs = await writer.finish();
      await rm(caseDir, { recursive: true, force: true });
      await rename(tmpDir, caseDir);
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
    const p = report.plan;
    if (p.groups.length > 1 || p.precision !== 'float32') {
      log(
        `memory budget ${formatBytes(memoryBytes)}: ${p.precision} accumulators` +
          (p.groups.length > 1 ? `, classes in ${p.groups.length} passes of up to ${Math.max(...p.groups.map((g) => g.length))}` : '') +
          ` (${formatBytes(p.accumulatorBytes)} + ${formatBytes(p.fixedBytes)} of buffers)`,
      );
    }
    const files = outputs.files.map((f) => (f.startsWith(tmpDir) ? caseDir + f.slice(tmpDir.length) : f));
    return { id: input.id, input: input.path, files, statistics: outputs.statistics, report, seconds: (performance.now() - t0) / 1000 };
  }
}

export interface InferSummary {
  outDir: string;
  cases: CaseResult[];
  classes: string[];
  folds: (number | null)[];
  activation: OutputActivation;
  seconds: number;
}

/**
 * `mtc infer`: predicts every input with `model` and writes the outputs under `outDir` (checked to be
 * writable first). Emits `job-start`, per case `stage-start`/`stage-progress`/`stage-end`, `job-end`.
 */
export async function inferCases(model: InferenceModel, inputs: InferInput[], outDir: string, options: PredictOptions & { backend?: string } = {}): Promise<InferSummary> {
  const t0 = performance.now();
  await checkOutputFolder(outDir);
  const predictor = new Predictor(model, options);
  const events = options.events;
  const classes = predictor.selected.map((i) => predictor.stems[i]);
  events?.emit({ type: 'job-start', command: 'infer', title: `${model.plans.experiment} (${model.origin})`, backend: options.backend ?? '', folder: outDir, activities: inputs.map((i) => `infer:${i.id}`) });
  const cases: CaseResult[] = [];
  let status: 'done' | 'failed' = 'failed';
  try {
    events?.emit({
      type: 'stage-log',
      stage: 'infer',
      message:
        `${model.folds.length} fold(s) [${model.folds.map((f) => (f.fold === null ? 'all' : f.fold)).join(', ')}], ${describeActivation(predictor.activation)}, classes: ${predictor.legend()}; ` +
        `CT statistics of ${predictor.normalizationFrom}; ` +
        (options.mirror === false
          ? 'no test-time mirroring'
          : predictor.mirrorAxes.length > 0
            ? `test-time mirroring over ${predictor.mirrorAxes.map((a) => 'zyx'[a]).join(', ')}`
            : 'no test-time mirroring: the model was trained without mirroring'),
    });
    for (const input of inputs) {
      const activity = `infer:${input.id}`;
      const ts = performance.now();
      events?.emit({ type: 'stage-start', stage: activity, kind: 'infer', description: `${input.path} -> ${join(outDir, input.id)}` });
      try {
        const r = await predictor.predictCase(input, outDir);
        cases.push(r);
        events?.emit({ type: 'stage-log', stage: activity, message: `${r.files.length} file(s) written (${r.report.tiles} tiles x ${model.folds.length} fold(s))` });
        events?.emit({ type: 'stage-end', stage: activity, status: 'done', seconds: (performance.now() - ts) / 1000 });
      } catch (e) {
        events?.emit({ type: 'stage-end', stage: activity, status: 'failed', seconds: (performance.now() - ts) / 1000, error: (e as Error).message });
        throw e;
      }
    }
    status = 'done';
  } finally {
    predictor.dispose();
    events?.emit({ type: 'job-end', command: 'infer', status, folder: outDir, seconds: (performance.now() - t0) / 1000 });
  }
  const summary: InferSummary = { outDir, cases, classes, folds: model.folds.map((f) => f.fold), activation: predictor.activation, seconds: (performance.now() - t0) / 1000 };
  if (options.protocol) {
    const protocol = model.plans.protocols[options.protocol];
    const labels = Object.fromEntries([['0', 'background'], ...protocol.order.map((e) => [String(e.value), e.class])]);
    await writeFileAtomic(join(outDir, 'labels.json'), `${JSON.stringify({ dataset: options.protocol, labels, order: protocol.order }, null, 2)}\n`);
  }
  return summary;
}

function describeActivation(a: OutputActivation): string {
  return a === 'sigmoid' ? 'a sigmoid per class (threshold 0.5)' : 'softmax (most probable class)';
}
