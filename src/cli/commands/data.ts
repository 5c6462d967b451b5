/**
 * `mtc data inspect FILE [--json]`, `mtc data check DATASET_DIR [--json]` and
 * `mtc data fingerprint DATASET_DIR [--cache DIR] [--json]`.
 */
import { resolve } from 'node:path';
import { PreprocessCache, defaultCacheDir } from '../../runtime/data/cache/cache.js';
import { loadRawDataset } from '../../runtime/data/raw/dataset.js';
import { MtDataError } from '../../runtime/data/errors.js';
import { datasetFingerprint } from '../../runtime/data/raw/fingerprint.js';
import { readNifti } from '../../runtime/data/nifti/read.js';
import { type CliIO, argPath } from '../io.js';

export interface InspectReport {
  file: string;
  version: 1 | 2;
  /** dim[1..] as stored, x first (nibabel's img.shape). */
  shape: number[];
  datatype: string;
  /** pixdim[1..3] (nibabel's zooms), x first. */
  zooms: [number, number, number];
  affine: number[][];
  affineSource: 'sform' | 'qform' | 'pixdim';
  qformCode: number;
  sformCode: number;
  orientation: string;
  sclSlope: number;
  sclInter: number;
  /** Over all voxels (all volumes of a 4-D file), after scl_slope/scl_inter. */
  intensity: { min: number; max: number; mean: number };
}

export async function inspectNifti(file: string): Promise<InspectReport> {
  const { volume, geometry: g } = await readNifti(file, { frame: 'all', rejectNonFinite: false });
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let finite = 0;
  for (const v of volume.data) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite++;
  }
  return {
    file,
    version: g.version,
    shape: g.dims,
    datatype: g.datatype,
    zooms: [g.spacing[2], g.spacing[1], g.spacing[0]],
    affine: g.affine,
    affineSource: g.affineSource,
    qformCode: g.qformCode,
    sformCode: g.sformCode,
    orientation: g.orientationCode,
    sclSlope: g.sclSlope,
    sclInter: g.sclInter,
    intensity: { min, max, mean: finite > 0 ? sum / finite : NaN },
  };
}

const num = (v: number): string => (Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString());

function formatInspect(r: InspectReport): string {
  const width = Math.max(...r.affine.flat().map((v) => num(v).length));
  const rows = r.affine.map((row) => `  [${row.map((v) => num(v).padStart(width)).join(' ')}]`);
  return [
    r.file,
    `  format       NIfTI-${r.version}`,
    `  shape        ${r.shape.join(' x ')}  (x, y, z${r.shape.length > 3 ? ', ...' : ''})`,
    `  datatype     ${r.datatype}`,
    `  spacing      ${r.zooms.map(num).join(' x ')}  (x, y, z)`,
    `  orientation  ${r.orientation}`,
    `  affine       from the ${r.affineSource} (qform_code ${r.qformCode}, sform_code ${r.sformCode})`,
    ...rows.map((l) => `  ${l}`),
    `  scaling      slope ${num(r.sclSlope)}, intercept ${num(r.sclInter)}`,
    `  intensity    min ${num(r.intensity.min)}, max ${num(r.intensity.max)}, mean ${num(r.intensity.mean)}`,
  ].join('\n');
}

/** `mtc data inspect FILE [--json]`. */
export async function dataInspectCommand(file: string, options: { json?: boolean }, io: CliIO): Promise<number> {
  const report = await inspectNifti(argPath(io, file));
  io.out(options.json ? JSON.stringify(report, null, 2) : formatInspect(report));
  return 0;
}

/** `mtc data check DATASET_DIR [--json]`: every problem of a raw dataset; exit 1 when there is any. */
export async function dataCheckCommand(dir: string, options: { json?: boolean }, io: CliIO): Promise<number> {
  const path = argPath(io, dir);
  let problems: string[] = [];
  let cases = 0;
  try {
    const ds = await loadRawDataset(path, { checkContents: true, readImages: true });
    cases = ds.cases.length;
  } catch (e) {
    if (!(e instanceof MtDataError)) throw e;
    problems = e.problems.length > 0 ? e.problems : [e.message];
  }
  if (options.json) {
    io.out(JSON.stringify({ dataset: path, ok: problems.length === 0, cases, problems }, null, 2));
  } else if (problems.length === 0) {
    io.out(`${path}: OK, ${cases} case(s); dataset.json, file names, geometry and label values all check out`);
  } else {
    io.err(`${path}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:`);
    for (const p of problems) io.err(`  - ${p}`);
  }
  return problems.length === 0 ? 0 : 1;
}

/** `mtc data fingerprint DATASET_DIR [--cache DIR] [--no-cache] [--json]`. */
export async function dataFingerprintCommand(dir: string, options: { json?: boolean; cache?: string | false }, io: CliIO): Promise<number> {
  const path = argPath(io, dir);
  const ds = await loadRawDataset(path, { checkContents: false });
  const cacheDir = options.cache === false ? undefined : options.cache ? resolve(io.cwd, options.cache) : defaultCacheDir(resolve(path, '..'));
  const cache = cacheDir ? new PreprocessCache(cacheDir) : undefined;
  const { fingerprint: fp, cached } = await datasetFingerprint(ds, { cache, validate: () => loadRawDataset(path, { checkContents: true }) });
  if (options.json) {
    io.out(JSON.stringify({ ...fp, cached }, null, 2));
    return 0;
  }
  const s = fp.intensity;
  io.out(
    [
      `${path}: ${fp.cases.length} case(s)${cached ? ` (from the cache ${cacheDir})` : ''}`,
      `  median spacing  ${fp.medianSpacing.map(num).join(' x ')} mm (z, y, x; internal RAS order)`,
      `  shapes          ${fp.cases.map((c) => c.shape.join('x')).join(', ')}`,
      s
        ? `  foreground HU   mean ${num(s.mean)}, std ${num(s.std)}, p0.5 ${num(s.p005)}, p99.5 ${num(s.p995)} (${s.samples} samples)`
        : '  foreground HU   no labelled voxels',
      `  label voxels    ${Object.entries(fp.labelVoxels).map(([k, v]) => `${k}: ${v}`).join(', ')}`,
    ].join('\n'),
  );
  return 0;
}
