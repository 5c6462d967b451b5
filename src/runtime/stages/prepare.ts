import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PrepareStage } from '../../graph/types.js';
import { MtDataError } from '../data/errors.js';
import { synthesizeCollection } from '../data/synth.js';
import { datasetDir, datasetSpec, type StageContext } from './context.js';

const LAYOUT = [
  'an nnU-Net raw dataset folder:',
  '    dataset.json            channel_names, labels, numTraining, file_ending',
  '    imagesTr/CASE_0000.nii.gz',
  '    labelsTr/CASE.nii.gz',
].join('\n');

/** Makes sure every dataset folder exists, synthesising the built-in synthetic ones when missing. */
export async function runPrepare(stage: PrepareStage, ctx: StageContext): Promise<void> {
  const synthesised = new Set<string>();
  const missing: string[] = [];
  let done = 0;
  for (const name of stage.datasets) {
    const spec = datasetSpec(ctx, name);
    const dir = datasetDir(ctx, spec);
    if (!existsSync(join(dir, 'dataset.json')) && spec.synthetic) {
      const collection = dirname(dir);
      const key = `${collection}|${spec.synthetic.generator}|${spec.synthetic.seed}`;
      if (!synthesised.has(key)) {
        ctx.events.emit({
          type: 'stage-log',
          stage: stage.id,
          message: `synthesising the '${spec.synthetic.generator}' collection (seed ${spec.synthetic.seed}) into ${collection}`,
        });
        await synthesizeCollection(collection, { generator: spec.synthetic.generator, seed: spec.synthetic.seed });
        synthesised.add(key);
      }
    }
    if (!existsSync(join(dir, 'dataset.json'))) {
      missing.push(`  dataset '${name}': ${existsSync(dir) ? `${join(dir, 'dataset.json')} is missing` : `folder ${dir} does not exist`}`);
    }
    done += 1;
    ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total: stage.datasets.length, unit: 'datasets' });
  }
  if (missing.length > 0) {
    throw new MtDataError(
      [
        `${missing.length} dataset folder(s) not found (data root: ${ctx.dataRoot}):`,
        ...missing,
        `Each must be ${LAYOUT}`,
        'Point --data (or MT_DATA) at the folder holding them, or fix `root` in the .mt file.',
      ].join('\n'),
    );
  }
}
