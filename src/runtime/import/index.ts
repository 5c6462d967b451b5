/**
 * `mtc import PATH...`: nnU-Net v2 model folders and checkpoints, nnU-Net v1 / MultiTalent
 * checkpoints, to an mtc model (./write.ts). Each PATH is one of
 *   - a v2 model folder (plans.json, dataset.json, fold_*): every fold with checkpoint_final.pth
 *     (or checkpoint_best.pth with `checkpoint: 'best'`);
 *   - a v2 fold folder or checkpoint file (…/fold_K/checkpoint_final.pth or checkpoint_best.pth);
 *   - a v1 trainer folder (fold_*), fold folder, or model_final_checkpoint.model / model_best.model
 *     (each with its .model.pkl).
 * Several PATHs must be folds of one model.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MtDataError } from '../data/errors.js';
import type { ImportedModel } from './model.js';
import { importV1, v1CheckpointFiles } from './nnunet-v1.js';
import { importV2, v2CheckpointFiles } from './nnunet-v2.js';

export { readTorchFile, readPickleFile, type TorchFile } from './torch-file.js';
export { PickleError, UnsafePickleError, unpickle, ALLOWED_GLOBALS } from './pickle.js';
export type { ImportedModel } from './model.js';
export type { MappingReport } from './mapping.js';
export { writeImportedModel, IMPORT_REPORT_FILE, IMPORT_SOURCE_FILE } from './write.js';
export { importedModelSource } from './mt-source.js';
export { MULTITALENT_V1_OUTPUTS } from './multitalent-v1.js';

export interface ImportOptions {
  /** Which checkpoint of a model folder: final (default) or best. */
  checkpoint?: 'final' | 'best';
  /** Words a `.mt` identifier cannot be (the language's keywords; the CLI passes them). */
  reserved?: readonly string[];
}

interface Located {
  kind: 'v1' | 'v2';
  /** v2: the model folder (plans.json); v1: the trainer folder. */
  modelDir: string;
  files: { fold: number | null; file: string }[];
}

async function kindOf(p: string): Promise<'dir' | 'file' | null> {
  return stat(p).then(
    (s) => (s.isDirectory() ? 'dir' : s.isFile() ? 'file' : null),
    () => null,
  );
}

function foldOf(dir: string): number | null {
  const m = /^fold_(\d+)$/.exec(basename(dir));
  return m ? Number(m[1]) : null;
}

async function locate(path: string, which: 'final' | 'best'): Promise<Located> {
  const p = resolve(path);
  const kind = await kindOf(p);
  if (kind === null) throw MtDataError.about(p, 'does not exist', 'Pass an nnU-Net model folder or checkpoint file');
  if (kind === 'file') {
    if (p.endsWith('.pth')) return { kind: 'v2', modelDir: dirname(dirname(p)), files: [{ fold: foldOf(dirname(p)), file: p }] };
    if (p.endsWith('.model')) return { kind: 'v1', modelDir: dirname(dirname(p)), files: [{ fold: foldOf(dirname(p)), file: p }] };
    if (p.endsWith('.model.pkl')) return locate(p.slice(0, -4), which);
    throw MtDataError.about(p, 'is not an nnU-Net checkpoint (.pth for v2, .model for v1)', 'Pass an nnU-Net model folder or checkpoint file');
  }
  if ((await kindOf(join(p, 'plans.json'))) === 'file') {
    const files = await v2CheckpointFiles(p, which);
    if (files.length === 0) throw MtDataError.about(p, `holds no fold_*/checkpoint_${which}.pth`, which === 'final' ? 'Pass a finished training, or --checkpoint best' : 'Pass a model folder whose folds hold checkpoint_best.pth');
    return { kind: 'v2', modelDir: p, files };
  }
  const v2Fold = join(p, `checkpoint_${which}.pth`);
  if ((await kindOf(v2Fold)) === 'file') return { kind: 'v2', modelDir: dirname(p), files: [{ fold: foldOf(p), file: v2Fold }] };
  const v1 = await v1CheckpointFiles(p, which);
  if (v1.length > 0) return { kind: 'v1', modelDir: v1.length === 1 && dirname(v1[0].file) === p ? dirname(p) : p, files: v1 };
  throw MtDataError.about(p, `holds neither an nnU-Net v2 model (plans.json, fold_*/checkpoint_${which}.pth) nor a v1 checkpoint (model_${which === 'final' ? 'final_checkpoint' : 'best'}.model)`, 'Pass an nnU-Net model folder or checkpoint file');
}

/** Reads the models at `paths` (folds of one model) into an ImportedModel; nothing is written. */
export async function importNnunet(paths: string[], options: ImportOptions = {}): Promise<ImportedModel> {
  if (paths.length === 0) throw new MtDataError('mtc import needs at least one model folder or checkpoint file');
  const which = options.checkpoint ?? 'final';
  const located = [];
  for (const p of paths) located.push(await locate(p, which));
  const kinds = new Set(located.map((l) => l.kind));
  const dirs = new Set(located.map((l) => l.modelDir));
  if (kinds.size > 1 || (located[0].kind === 'v2' && dirs.size > 1)) {
    throw new MtDataError(`the paths are not folds of one model (${[...dirs].join(', ')}): import each model into its own folder`);
  }
  const files = located.flatMap((l) => l.files);
  const seenFolds = new Set<string>();
  for (const f of files) {
    const k = String(f.fold);
    if (seenFolds.has(k)) throw MtDataError.about(f.file, `is a second checkpoint of fold ${f.fold ?? 'all'}`, 'Pass each fold once');
    seenFolds.add(k);
  }
  const reserved = options.reserved ?? [];
  return located[0].kind === 'v2' ? importV2(located[0].modelDir, files, { reserved }) : importV1(files, { reserved });
}
