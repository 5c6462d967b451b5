import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PrepareStage, RuntimeGraph } from '../../graph/types.js';
import { MtDataError } from '../data/errors.js';
import { synthesizeCollection } from '../data/synth/collection.js';
import { datasetDir, datasetSpec, type StageContext } from './context.js';

const LAYOUT = [
  'an nnU-Net raw dataset folder:',
  '    dataset.json            channel_names, labels, numTraining, file_ending',
  '    imagesTr/CASE_0000.nii.gz',
  '    labelsTr/CASE.nii.gz',
].join('\n');

/**
 * One message naming every dataset folder that is missing, with the layout expected, or null.
 * Datasets that can be synthesised count as present when `synthesisable` is true.
 */
export function missingDatasetsMessage(
  graph: RuntimeGraph,
  dataRoot: string,
  names: string[],
  options: { synthesisable: boolean },
): string | null {
  const missing: string[] = [];
  for (const name of names) {
    const spec = graph.datasets.find((d) => d.name === name);
    if (!spec || (options.synthesisable && spec.synthetic)) continue;
    const dir = datasetDir({ dataRoot }, spec);
    if (!existsSync(join(dir, 'dataset.json'))) {
      missing.push(`  dataset '${name}': ${existsSync(dir) ? `${join(dir, 'dataset.json')} is missing` : `folder ${dir} does not exist`}`);
    }
  }
  if (missing.length === 0) return null;
  return [
    `${missing.length} dataset folder(s) not found (data root: ${dataRoot}):`,
    ...missing,
    `Each must be ${LAYOUT}`,
    'Point --data (or MT_DATA) at the folder holding them, or fix `root` in the .mt file.',
  ].join('\n');
}

/** Makes sure every dataset folder exists, synthesising the built-in synthetic ones when missing. */
export async function runPrepare(stage: PrepareStage, ctx: StageContext): Promise<void> {
  const synthesised = new Set<string>();
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
    done += 1;
    ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total: stage.datasets.length, unit: 'datasets' });
  }
  const missing = missingDatasetsMessage(ctx.graph, ctx.dataRoot, stage.datasets, { synthesisable: false });
  if (missing) throw new MtDataError(missing);
}
