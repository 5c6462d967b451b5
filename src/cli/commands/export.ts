import { resolve } from 'node:path';
import { formatBytes } from '../../runtime/infer/accumulator.js';
import { loadInferenceModel } from '../../runtime/infer/model-source.js';
import { writeModelPackage } from '../../runtime/infer/package.js';
import type { CliIO } from '../io.js';
import { parseFolds } from './infer.js';

export interface ExportCommandOptions {
  output: string;
  model?: string;
  folds?: string;
}

/** `mtc export RUN -o FILE`: one self-contained model package. */
export async function exportCommand(source: string, options: ExportCommandOptions, io: CliIO): Promise<number> {
  const model = await loadInferenceModel(resolve(io.cwd, source), { model: options.model, folds: parseFolds(options.folds) });
  const file = resolve(io.cwd, options.output);
  const bytes = await writeModelPackage(model, file);
  const folds = model.folds.map((f) => (f.fold === null ? 'all cases' : `fold ${f.fold}`)).join(', ');
  io.out(`mtc export: ${model.plans.experiment} (${model.plans.heads.length} classes, ${folds}) -> ${file} (${formatBytes(bytes)})`);
  if (!model.runDir) io.out('  note: no run folder around the model, so the package carries no resolved spec (graph.yaml)');
  return 0;
}
