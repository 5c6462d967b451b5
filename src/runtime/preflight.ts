import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { outputChannels } from '../graph/outputs.js';
import type { ArchitectureSpec, DatasetSpec, RuntimeGraph, Stage, TrainParams } from '../graph/types.js';
import { MtDataError } from './data/errors.js';
import { classProblems, loadRawDataset } from './data/raw/dataset.js';
import { tooFewForFolds } from './data/raw/split.js';
import { lossDefinition, lossSetupOf, registeredLosses } from './loss/registry.js';
import { checkpointDirOf, readCheckpointManifest, type CheckpointManifest } from './model/checkpoint.js';
import { isHead, networkDefinition, networkKinds, parameterSpecs } from './model/registry.js';
import { datasetDir } from './stages/context.js';
import { unimplementedTransforms } from './train/augment/registry.js';

/**
 * What the language can express but this runtime cannot execute yet. Checked before any stage
 * runs, so an unsupported experiment fails in a second with a way out, not after preprocessing.
 */
export function unsupportedFeatures(graph: RuntimeGraph): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const stage of graph.stages) {
    if (stage.kind !== 'train' && stage.kind !== 'finetune') continue;
    const p: TrainParams = stage;
    const arch = p.architecture;
    const say = (msg: string) => {
      if (!seen.has(msg)) problems.push(msg);
      seen.add(msg);
    };
    const known = networkKinds().includes(arch.kind);
    if (!known) say(`experiment '${p.experiment}': architecture '${arch.name}' is a ${arch.kind}; the runtime builds ${networkKinds().join(', ')}`);
    if (!registeredLosses().includes(p.loss)) {
      say(`experiment '${p.experiment}': loss '${p.loss}' is not known to this runtime (it trains ${registeredLosses().join(', ')})`);
    } else {
      const refused = lossDefinition(p.loss).refuse(lossSetupOf(p));
      if (refused) say(`experiment '${p.experiment}': loss '${p.loss}' ${refused}`);
    }
    if (known) {
      try {
        networkDefinition(arch.kind).validate(arch);
      } catch (err) {
        say(`experiment '${p.experiment}': the patch or topology does not fit the network: ${(err as Error).message}`);
      }
    }
    const missing = unimplementedTransforms(p.augmentation);
    if (missing.length > 0) {
      say(
        `experiment '${p.experiment}': augmentation '${p.augmentation?.name}' uses ${missing.join(', ')}, ` +
          `which this runtime does not implement; set its p to 0, or use 'augmentation none'`,
      );
    }
  }
  return problems;
}

export class UnsupportedFeatureError extends Error {
  constructor(
    readonly problems: string[],
    /** Also in the way: missing dataset folders, already formatted (see stages/prepare.ts). */
    readonly missingData: string | null = null,
  ) {
    super(
      `this experiment uses features the runtime cannot execute yet:\n${problems.map((p) => `  - ${p}`).join('\n')}` +
        (missingData ? `\n${missingData}` : ''),
    );
    this.name = 'UnsupportedFeatureError';
  }
}

const isTraining = (s: Stage): s is Extract<Stage, { kind: 'train' | 'finetune' }> => s.kind === 'train' || s.kind === 'finetune';

/** Describes an architecture in one line, for mismatch messages. */
function describeArchitecture(a: ArchitectureSpec): string {
  return `'${a.name}' (${a.kind}, features ${a.features.join('/')}${a.blocksPerStage ? `, blocks ${a.blocksPerStage.join('/')}` : ''}, strides ${a.strides.map((s) => s.join('')).join(' ')})`;
}

/**
 * Why the backbone of a checkpoint cannot initialise `params`' network, or null when every backbone
 * tensor of the network is in the checkpoint with its shape (the output heads are always fresh).
 */
export function checkpointMismatch(manifest: CheckpointManifest, params: TrainParams, where: string): string | null {
  const arch = params.architecture;
  const theirs = manifest.architecture;
  if (theirs.kind !== arch.kind) {
    const ours = `${arch.kind} ${describeArchitecture(arch)}`;
    return `${where} holds a ${theirs.kind} ${describeArchitecture(theirs)}, but experiment '${params.experiment}' trains a ${ours}`;
  }
  const channels = outputChannels(lossSetupOf(params).output, params.heads).length;
  const expected = parameterSpecs(arch, channels).filter((p) => !isHead(arch, p.name));
  const have = new Map(manifest.weights.map((w) => [w.name, w.shape]));
  const wrong: string[] = [];
  for (const p of expected) {
    const shape = have.get(p.name);
    if (!shape) wrong.push(`${p.name} is missing`);
    else if (shape.join(',') !== p.shape.join(',')) wrong.push(`${p.name} is [${shape.join(', ')}], the network needs [${p.shape.join(', ')}]`);
  }
  if (wrong.length === 0) return null;
  return (
    `the backbone in ${where} does not match the architecture of experiment '${params.experiment}': ` +
    `${wrong.length} of its ${expected.length} backbone tensors differ (${wrong.slice(0, 3).join('; ')}${wrong.length > 3 ? `; and ${wrong.length - 3} more` : ''}). ` +
    `The checkpoint was trained as ${describeArchitecture(theirs)}, the experiment builds ${describeArchitecture(arch)}. ` +
    `Fine-tune with the checkpoint's architecture (same kind, features, blocks, kernels and strides), or start from a checkpoint of this one`
  );
}

/**
 * Problems with the run's inputs found by reading them, before any stage runs: each dataset folder
 * that exists is read (its dataset.json and file listing, no voxels) and the classes of the .mt file
 * are checked against the labels it declares; each `pretrained "FILE"` checkpoint's manifest is read
 * and its backbone checked against the experiment's network. Folders that do not exist yet are left
 * to the prepare stage (it synthesises the synthetic ones and names the others).
 */
export async function inputProblems(graph: RuntimeGraph, dataRoot: string): Promise<string[]> {
  const problems: string[] = [];
  for (const spec of graph.datasets) {
    const dir = datasetDir({ dataRoot }, spec);
    if (!existsSync(join(dir, 'dataset.json'))) continue;
    try {
      const ds = await loadRawDataset(dir, { checkContents: false });
      problems.push(...classProblems(spec.name, spec.classes, ds));
      problems.push(...splitProblems(graph, spec, dir, ds.cases.length));
    } catch (err) {
      if (!(err instanceof MtDataError)) throw err;
      problems.push(`dataset '${spec.name}': ${err.message}`);
    }
  }
  for (const stage of graph.stages) {
    if (!isTraining(stage) || !stage.checkpoint) continue;
    const dir = checkpointDirOf(stage.checkpoint);
    const where = `the pretrained checkpoint ${join(dir, 'model.json')}`;
    let manifest: CheckpointManifest;
    try {
      manifest = await readCheckpointManifest(dir);
    } catch (err) {
      problems.push(`experiment '${stage.experiment}': ${(err as Error).message} (pretrained "${stage.checkpoint}"; give the checkpoint folder or its model.json)`);
      continue;
    }
    const mismatch = checkpointMismatch(manifest, stage, where);
    if (mismatch) problems.push(`experiment '${stage.experiment}': ${mismatch}`);
  }
  return problems;
}

/**
 * A dataset's cross-validation split must exist before any stage runs: its split file, or enough
 * cases for the seeded k-fold split of every training on one of its folds (each fold validates on one case at least).
 */
function splitProblems(graph: RuntimeGraph, spec: DatasetSpec, dir: string, cases: number): string[] {
  if (spec.splitFile) {
    return existsSync(join(dir, spec.splitFile)) ? [] : [`dataset '${spec.name}': its split file ${join(dir, spec.splitFile)} does not exist (field \`split\`); write it (nnU-Net's splits_final.json) or drop the field for the seeded 5-fold split`];
  }
  const folds = Math.max(0, ...graph.stages.filter(isTraining).filter((s) => s.fold !== null && s.datasets.includes(spec.name)).map((s) => s.split.folds));
  return folds === 0 || cases >= folds ? [] : [tooFewForFolds(spec.name, cases, folds)];
}

/** Throws an MtDataError listing every problem of inputProblems, before anything is written. */
export async function assertInputsUsable(graph: RuntimeGraph, dataRoot: string): Promise<void> {
  const problems = await inputProblems(graph, dataRoot);
  if (problems.length === 0) return;
  throw new MtDataError(
    `the run's inputs do not fit the experiment (${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was run):\n${problems.map((p) => `  - ${p.replace(/\n/g, '\n    ')}`).join('\n')}`,
    { problems },
  );
}
