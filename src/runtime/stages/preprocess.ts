/**
 * `preprocess:GROUP`: crop, CT-normalise and resample every case of the stage's datasets
 * (data/preprocess/collection.ts). The statistics are the datasets' own (pooled over the group for
 * scope `collection`), or those of another preprocess stage (`normalization.statsFrom`: a fine-tune
 * target is normalised like its pre-training). Outputs:
 *
 *   cases/DATASET/ID.mtcase   every case (hard links to the preprocessing cache's files where possible)
 *   cases.json                the list: dataset, id, file, shape
 *   normalization.json        kind, scope, spacing, the statistics applied per dataset, statsFrom
 *
 * The digest downstream keys see is computed from the cases' contents and the statistics, not from
 * the files' bytes, which also record where each raw image was read from.
 */
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { PreprocessStage } from '../../graph/types.js';
import { defaultCacheDir } from '../data/cache/cache.js';
import { encodeCase } from '../data/cache/case-file.js';
import { preprocessCollectionDetailed } from '../data/preprocess/collection.js';
import type { CtStats } from '../data/preprocess/normalize.js';
import type { PreprocessedCase } from '../data/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { canonicalJson, sha256Hex } from '../executor/keys.js';
import { datasetDir, datasetSpec, inputOf, type StageContext, type StageHandler } from './context.js';
import { readNormalization, type CaseEntry, type NormalizationRecord } from './data.js';

/**
 * The preprocessing cache folder: `ctx.cacheDir` when the executor sets one (e.g. from `mtc run
 * --cache DIR`), null to disable caching, else `<data root>/.mtc-cache`.
 */
function cacheDirOf(ctx: StageContext): string | undefined {
  if (ctx.cacheDir === null) return undefined;
  return ctx.cacheDir ?? defaultCacheDir(ctx.dataRoot);
}

/** A case's content, independent of where its raw file lives. */
export function caseDigest(c: PreprocessedCase): string {
  const h = createHash('sha256');
  const { imagePath: _where, ...source } = c.source ?? { imagePath: '' };
  h.update(canonicalJson({ id: c.id, dataset: c.dataset, shape: c.shape, spacing: c.spacing, source, classes: Object.keys(c.classVoxels) }));
  h.update(new Uint8Array(c.image.buffer, c.image.byteOffset, c.image.byteLength));
  h.update(c.label);
  for (const v of Object.values(c.classVoxels)) h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return h.digest('hex');
}

async function placeCase(c: PreprocessedCase, out: string, cached: string | undefined): Promise<void> {
  if (cached !== undefined) {
    await rm(out, { force: true });
    try {
      await link(cached, out);
      return;
    } catch {
      try {
        await copyFile(cached, out);
        return;
      } catch {
        // fall through: write it afresh
      }
    }
  }
  await writeFileAtomic(out, encodeCase(c));
}

async function upstreamStatistics(stage: PreprocessStage, ctx: StageContext): Promise<CtStats | undefined> {
  const from = stage.normalization.statsFrom;
  if (from === null) return undefined;
  const rec = await readNormalization(inputOf(ctx, from).dir);
  const all = Object.values(rec.statistics);
  const first = all[0];
  if (!first || all.some((s) => canonicalJson(s) !== canonicalJson(first))) {
    throw new Error(`preprocess stage '${from}' normalises each dataset with its own statistics; '${stage.id}' needs one set to take over`);
  }
  return first;
}

export const preprocessHandler: StageHandler<PreprocessStage> = {
  run: async (stage, ctx) => {
    const inputs = stage.datasets.map((name) => {
      const spec = datasetSpec(ctx, name);
      return { name, dir: datasetDir(ctx, spec), classes: spec.classes };
    });
    const statistics = await upstreamStatistics(stage, ctx);
    const cacheDir = cacheDirOf(ctx);
    const result = await preprocessCollectionDetailed(
      inputs,
      {
        spacing: stage.spacing, normalization: stage.normalization, statistics, cacheDir,
        onCacheDamage: (problem) => ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `preprocessing cache entry damaged (${problem}): rebuilding it` }),
      },
      (done, total, message) => {
        ctx.signal?.throwIfAborted();
        ctx.events.emit({ type: 'stage-progress', stage: stage.id, done, total, unit: 'steps', detail: message });
      },
    );
    const list: CaseEntry[] = [];
    const digests: [string, string, string][] = [];
    for (const d of result.datasets) {
      await mkdir(join(ctx.workDir, 'cases', d.name), { recursive: true });
      for (const c of d.cases) {
        const file = `cases/${d.name}/${c.id}.mtcase`;
        await placeCase(c, join(ctx.workDir, file), result.cacheFiles[d.name]?.[c.id]);
        list.push({ dataset: d.name, id: c.id, file, shape: c.shape });
        digests.push([d.name, c.id, caseDigest(c)]);
      }
      const shapes = d.cases.map((c) => c.shape.join('x'));
      ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `${d.name}: ${d.cases.length} cases, e.g. ${shapes[0] ?? '-'} voxels` });
    }
    const record: NormalizationRecord = {
      kind: 'ct',
      scope: stage.normalization.scope,
      spacing: [...stage.spacing],
      statistics: result.stats,
      statsFrom: stage.normalization.statsFrom,
    };
    await writeFileAtomic(join(ctx.workDir, 'cases.json'), `${JSON.stringify(list, null, 1)}\n`);
    await writeFileAtomic(join(ctx.workDir, 'normalization.json'), `${JSON.stringify(record, null, 2)}\n`);
    const s = Object.values(result.stats)[0];
    if (s) {
      const whose = stage.normalization.statsFrom === null ? stage.normalization.scope : `taken from ${stage.normalization.statsFrom}`;
      ctx.events.emit({
        type: 'stage-log',
        stage: stage.id,
        message: `CT normalisation (${whose}): clip [${s.p005.toFixed(1)}, ${s.p995.toFixed(1)}], mean ${s.mean.toFixed(2)}, std ${s.std.toFixed(2)}`,
      });
    }
    if (cacheDir) {
      ctx.events.emit({ type: 'stage-log', stage: stage.id, message: `preprocessing cache ${cacheDir}: ${result.cacheHits} of ${list.length} cases reused` });
    }
    return {
      digest: sha256Hex(canonicalJson({ statistics: result.stats, cases: digests })),
      summary: {
        cases: list.length,
        datasets: Object.fromEntries(result.datasets.map((d) => [d.name, d.cases.length])),
        normalization: s ? { mean: s.mean, std: s.std, p005: s.p005, p995: s.p995 } : null,
        statsFrom: stage.normalization.statsFrom,
        cacheHits: result.cacheHits,
      },
    };
  },
};
