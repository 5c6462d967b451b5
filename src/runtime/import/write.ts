/**
 * Writes an imported model as an mtc model folder:
 *   model.json + weights.bin   the checkpoint (src/runtime/model/checkpoint.ts), one per fold:
 *                              in DIR itself for one fold, else in DIR/fold_K/
 *   plans.json                 next to each checkpoint: the preprocessing facts from nnU-Net's plans
 *                              (spacing, CT statistics, axis order), the classes and the output
 *                              activation, in the format `mtc infer` reads
 *   model.mt                   the imported architecture, datasets and classes (`pretrained "DIR"`)
 *   import.json                the complete name mapping per fold: every tensor used, aliased or skipped
 * Everything is written into a temporary sibling folder that is renamed to DIR at the end, so DIR
 * never holds half an import.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { HeadSpec, OutputLayout } from '../../graph/types.js';
import { tempSibling, writeFileAtomic } from '../io/atomic.js';
import { saveCheckpoint } from '../model/checkpoint.js';
import { networkFromWeights } from '../model/registry.js';
import { MtDataError } from '../data/errors.js';
import type { ImportedModel } from './model.js';
import { softwareVersions } from '../version.js';
import { deriveProtocol, PLANS_FORMAT, PLANS_VERSION, type DatasetProtocol, type ModelPlans } from '../infer/plans.js';
import { importedModelSource } from './mt-source.js';

export const IMPORT_REPORT_FILE = 'import.json';
export const IMPORT_SOURCE_FILE = 'model.mt';

function plansFor(model: ImportedModel, version: string): ModelPlans {
  const stats = model.preprocessing.normalization;
  const datasets = [...new Set(model.heads.map((h) => h.dataset))];
  const tagsOf = (h: HeadSpec) => model.datasets.find((d) => d.name === h.dataset)?.classes.find((c) => c.name === h.name)?.tags ?? [];
  const protocols: Record<string, DatasetProtocol> = {};
  for (const d of model.datasets) protocols[d.name] = deriveProtocol(d.classes, d.labels);
  return {
    format: PLANS_FORMAT,
    version: PLANS_VERSION,
    experiment: model.architecture.name,
    stage: 'import',
    createdAt: new Date().toISOString(),
    versions: { ...softwareVersions(), mtc: version, plans: PLANS_VERSION },
    axisOrder: 'zyx',
    voxelOrder: 'closest-canonical-RAS',
    preprocessing: {
      crop: 'nonzero',
      spacing: [...model.preprocessing.spacing],
      imageInterpolation: model.preprocessing.imageInterpolation,
      anisotropyThreshold: 3,
      normalization: {
        kind: 'ct',
        scope: 'collection',
        statistics: Object.fromEntries(datasets.map((d) => [d, { mean: stats.mean, std: stats.std, p005: stats.p005, p995: stats.p995, samples: 0 }])),
      },
    },
    heads: model.heads.map((h) => ({ ...h, labels: [...h.labels], tags: [...tagsOf(h)] })),
    activation: model.activation,
    threshold: 0.5,
    inference: { stepFraction: 0.5, gaussian: true, mirror: model.mirror },
    protocols,
    training: null,
    imported: {
      ...model.source,
      nnunetVoxelOrder: model.preprocessing.nnunetVoxelOrder,
      notes: model.notes,
    },
  };
}

/** model.json's output layout (graph/outputs.ts): softmax channel k is label heads[k]; the classes are the datasets'. */
function outputOf(model: ImportedModel): { layout: OutputLayout; classes: HeadSpec[] } {
  if (model.activation === 'sigmoid') return { layout: { activation: 'sigmoid' }, classes: model.heads.map((h) => ({ ...h, labels: [...h.labels] })) };
  return {
    layout: { activation: 'softmax', labels: model.heads.map((h) => h.labels[0]) },
    classes: model.datasets.flatMap((d) => d.classes.map((c) => ({ dataset: d.name, name: c.name, labels: [...c.labels] }))),
  };
}

async function isNonEmptyDir(p: string): Promise<boolean> {
  try {
    if (!(await stat(p)).isDirectory()) return true;
    return (await readdir(p)).length > 0;
  } catch {
    return false;
  }
}

export interface WriteImportOptions {
  /** mtc's version, recorded in plans.json. */
  version: string;
}

/** Writes `model` to `dir` (which must not exist or be empty); returns the checkpoint folders written. */
export async function writeImportedModel(model: ImportedModel, dir: string, options: WriteImportOptions): Promise<string[]> {
  const target = resolve(dir);
  if (await isNonEmptyDir(target)) throw MtDataError.about(target, 'already exists and is not empty', 'Choose a new output folder with -o, or remove this one');
  const tmp = tempSibling(target);
  const folders: string[] = [];
  try {
    await mkdir(tmp, { recursive: true });
    const plans = JSON.stringify(plansFor(model, options.version), null, 2) + '\n';
    const several = model.folds.length > 1;
    for (const f of model.folds) {
      const sub = several ? `fold_${f.fold ?? 'all'}` : '';
      const out = join(tmp, sub);
      const net = networkFromWeights(model.architecture, model.heads, f.weights);
      try {
        await saveCheckpoint(net, out, outputOf(model));
      } finally {
        net.dispose();
      }
      await writeFileAtomic(join(out, 'plans.json'), plans);
      folders.push(join(target, sub));
    }
    await writeFileAtomic(join(tmp, IMPORT_SOURCE_FILE), importedModelSource(model, { dir: target, checkpoint: folders[0] }));
    const report = {
      source: model.source,
      architecture: model.architecture,
      activation: model.activation,
      heads: model.heads,
      preprocessing: model.preprocessing,
      notes: model.notes,
      folds: model.folds.map((f) => ({ fold: f.fold, file: f.file, ...f.mapping })),
    };
    await writeFileAtomic(join(tmp, IMPORT_REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return folders;
}
