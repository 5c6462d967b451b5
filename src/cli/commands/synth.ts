import { resolve } from 'node:path';
import { synthesizeCollection } from '../../runtime/data/synth/collection.js';
import type { CliIO } from '../io.js';

/** `mtc synth DIR [--seed N]`: writes the synthetic nnU-Net raw collection. */
export async function synthCommand(dir: string, options: { seed: number; generator: string }, io: CliIO): Promise<number> {
  const target = resolve(io.cwd, dir);
  const t0 = performance.now();
  const written = await synthesizeCollection(target, { generator: options.generator, seed: options.seed });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  for (const d of written.datasets) io.out(`${d.dir}  ${d.cases} cases  labels ${JSON.stringify(d.labels)}`);
  io.out(`wrote ${written.datasets.length} datasets to ${target} in ${seconds}s (generator '${options.generator}', seed ${options.seed})`);
  return 0;
}
