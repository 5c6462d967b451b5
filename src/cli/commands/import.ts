import { relative, resolve } from 'node:path';
import { RESERVED_WORDS } from '../../compiler/grammar/tokens.js';
import { importNnunet, writeImportedModel } from '../../runtime/import/index.js';
import { initRuntime } from '../../runtime/setup.js';
import type { CliIO } from '../io.js';

export interface ImportOptions {
  output: string;
  checkpoint: 'final' | 'best';
  version: string;
}

/** `mtc import PATH... -o DIR`: nnU-Net v2 / v1 / MultiTalent checkpoints to an mtc model folder. */
export async function importCommand(paths: string[], options: ImportOptions, io: CliIO): Promise<number> {
  const t0 = performance.now();
  await initRuntime('cpu');
  const model = await importNnunet(
    paths.map((p) => resolve(io.cwd, p)),
    { checkpoint: options.checkpoint, reserved: RESERVED_WORDS },
  );
  const dir = resolve(io.cwd, options.output);
  const folders = await writeImportedModel(model, dir, { version: options.version });
  const s = model.source;
  const rel = (p: string) => {
    const r = relative(io.cwd, p);
    return r === '' ? '.' : r.startsWith('..') ? p : r;
  };
  io.out(`${s.format === 'nnunet-v2' ? 'nnU-Net v2' : 'nnU-Net v1'} ${s.network} (${s.configuration}, trainer ${s.trainer}, ${s.serialisation} checkpoint${model.folds.length > 1 ? 's' : ''})`);
  const classes = model.activation === 'softmax' ? model.heads.length - 1 : model.heads.length;
  io.out(`  ${classes} classes (${model.activation === 'softmax' ? 'softmax over the labels' : 'a sigmoid per class'}), patch [${model.architecture.patch.join(', ')}] at spacing [${model.preprocessing.spacing.join(', ')}] mm`);
  for (const f of model.folds) {
    const m = f.mapping;
    io.out(
      `  fold ${f.fold ?? 'all'}: ${m.used.length} tensors mapped (${m.parameters} parameters), ${m.aliases.length} aliases counted once, ${m.skipped.length} entries of training state skipped  <- ${rel(f.file)}`,
    );
  }
  for (const n of model.notes) io.out(`  note: ${n}`);
  io.out(`wrote ${rel(dir)}: ${folders.length === 1 ? 'model.json, weights.bin, plans.json' : `${folders.length} folds (fold_K/model.json, weights.bin, plans.json)`}, model.mt (architecture '${model.architecture.name}'), import.json (the name mapping) in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  return 0;
}
