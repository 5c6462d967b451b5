/**
 * `prepare:DATASET`: makes sure the dataset's folder exists (synthesising a built-in synthetic
 * dataset that is missing), checks its structure and dataset.json, and hashes its files: the
 * listing (`files.json`: case ids and the SHA-256 of dataset.json, every image and label, and the
 * split file) is the stage's output, and its digest goes into every downstream key.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { PrepareStage, RuntimeGraph } from '../../graph/types.js';
import { defaultCacheDir } from '../data/cache/cache.js';
import { fileContentHash } from '../data/cache/content-hash.js';
import { MtDataError } from '../data/errors.js';
import { loadRawDataset } from '../data/raw/dataset.js';
import { synthesizeCollection } from '../data/synth/collection.js';
import { writeFileAtomic } from '../io/atomic.js';
import { assertConfined } from '../confine.js';
import { acquireLock } from '../io/lock.js';
import { canonicalJson, sha256Hex } from '../executor/keys.js';
import { datasetDir, datasetSpec, type ExternalContext, type StageHandler } from './context.js';

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

/** The datasets of the graph that will be synthesised because their folder is missing. */
export function datasetsToSynthesise(graph: RuntimeGraph, dataRoot: string): string[] {
  return graph.datasets.filter((d) => d.synthetic && !existsSync(join(datasetDir({ dataRoot }, d), 'dataset.json'))).map((d) => d.name);
}

/** What prepare records about a dataset's files. */
export interface DatasetListing {
  dataset: string;
  /** Case ids, sorted. */
  cases: string[];
  /** SHA-256 of each file, by path relative to the dataset folder ('/'-separated). */
  files: Record<string, string>;
}

/** One synthesis per collection folder at a time in this process (its datasets share one generator run). */
const synthesising = new Map<string, Promise<unknown>>();

async function ensureFolder(stage: PrepareStage, ctx: ExternalContext, dir: string): Promise<void> {
  const spec = datasetSpec(ctx, stage.datasets[0]);
  if (existsSync(join(dir, 'dataset.json')) || !spec.synthetic) return;
  assertConfined(ctx.graph, ctx.dataRoot, ctx.allowOutsideDataRoot, [spec.name]); // also when the stage runs in its own process
  const collection = dirname(dir);
  const id = `${collection}|${spec.synthetic.generator}|${spec.synthetic.seed}`;
  let job = synthesising.get(id);
  ctx.announce?.();
  if (!job) {
    const synth = spec.synthetic;
    // One synthesis per folder across processes too (a second `mtc run` on the same data root waits, then finds the data).
    job = (async () => {
      const release = await acquireLock(join(collection, '.mtc-synth.lock'), `synthesising ${synth.generator}`, {
        signal: ctx.signal,
        onWait: (h) => ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `waiting for process ${h.pid} on ${h.host}, which is synthesising ${collection}` }),
      });
      try {
        if (existsSync(join(dir, 'dataset.json'))) return;
        ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `synthesising the '${synth.generator}' collection (seed ${synth.seed}) into ${collection}` });
        await synthesizeCollection(collection, { generator: synth.generator, seed: synth.seed });
      } finally {
        await release();
      }
    })();
    synthesising.set(id, job);
  }
  try {
    await job;
  } finally {
    synthesising.delete(id);
  }
}

/** Checks the folder and hashes its files (memoised in the preprocessing cache by path, size and mtime). */
export async function listDataset(stage: PrepareStage, ctx: ExternalContext): Promise<DatasetListing> {
  const name = stage.datasets[0];
  const spec = datasetSpec(ctx, name);
  const dir = datasetDir(ctx, spec);
  await ensureFolder(stage, ctx, dir);
  const missing = missingDatasetsMessage(ctx.graph, ctx.dataRoot, [name], { synthesisable: false });
  if (missing) throw new MtDataError(missing);
  const ds = await loadRawDataset(dir, { checkContents: false });
  const paths = [join(dir, 'dataset.json'), ...ds.cases.flatMap((c) => [c.imagePath, c.labelPath])];
  if (spec.splitFile) {
    const split = join(dir, spec.splitFile);
    if (!existsSync(split)) {
      throw MtDataError.about(split, `dataset '${name}' declares split "${spec.splitFile}", but the file does not exist`, 'Put the split file (nnU-Net\'s splits_final.json layout) in the dataset folder, or remove `split` from the dataset');
    }
    paths.push(split);
  }
  const memo = ctx.cacheDir === null ? undefined : join(ctx.cacheDir ?? defaultCacheDir(ctx.dataRoot), 'hashes');
  const files: Record<string, string> = {};
  let done = 0;
  for (const p of paths) {
    ctx.signal?.throwIfAborted();
    files[relative(dir, p).split(sep).join('/')] = await fileContentHash(p, memo);
    done++;
    if (done % 64 === 0) ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total: paths.length, unit: 'files', detail: 'hashing' });
  }
  return { dataset: name, cases: ds.cases.map((c) => c.id).sort(), files };
}

export const prepareHandler: StageHandler<PrepareStage> = {
  external: async (stage, ctx) => {
    const listing = await listDataset(stage, ctx);
    return { digest: sha256Hex(canonicalJson(listing)), detail: listing };
  },
  run: async (stage, ctx) => {
    const listing = ctx.external as DatasetListing;
    await writeFileAtomic(join(ctx.workDir, 'files.json'), `${JSON.stringify(listing, null, 1)}\n`);
    ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `${listing.dataset}: ${listing.cases.length} cases, ${Object.keys(listing.files).length} files hashed` });
    return { summary: { cases: listing.cases.length, files: Object.keys(listing.files).length }, digest: sha256Hex(canonicalJson(listing)) };
  },
};
