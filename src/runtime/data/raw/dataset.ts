/**
 * nnU-Net v2 raw datasets: `dataset.json`, `imagesTr/CASE_0000.nii.gz`, `labelsTr/CASE.nii.gz`.
 *
 * `loadRawDataset` lists and validates a dataset without keeping voxels in memory (each label is read
 * once to check its values, then dropped); `loadRawCase` loads one case when it is needed.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Affine, affineMaxDiff } from '../nifti/affine.js';
import { type DatasetJson, datasetJsonProblems, declaredLabelValues } from './dataset-json.js';
import { MtDataError } from '../errors.js';
import { type NiftiGeometry, type NiftiLabel, readNifti, readNiftiHeader, readNiftiLabel } from '../nifti/read.js';
import type { Volume } from '../types.js';

export type { DatasetJson } from './dataset-json.js';

export interface RawCaseRef {
  /** nnU-Net case identifier (the label file name without its ending). */
  id: string;
  imagePath: string;
  labelPath: string;
}

export interface RawDataset {
  dir: string;
  /** Folder name, e.g. `Dataset901_SynthLiver`. */
  folder: string;
  json: DatasetJson;
  /** Every label value dataset.json declares, sorted. */
  labelValues: number[];
  /** Cases sorted by id. */
  cases: RawCaseRef[];
}

export interface RawCase {
  id: string;
  /** Intensities in the internal voxel order (closest canonical RAS+, see docs/data.md). */
  image: Volume<Float32Array>;
  /** Label values, same grid as `image`. */
  label: Volume<Uint8Array>;
  /** Geometry of the image file as stored (the label shares it; checked on loading). */
  geometry: NiftiGeometry;
  /** Voxel-to-world affine of `image` / `label` (the file's affine, reoriented). */
  affine: Affine;
}

export interface LoadRawDatasetOptions {
  /** Read every label and image header to check shapes, geometry and label values (default true). */
  checkContents?: boolean;
  /** Also read every image in full (truncation, NaN/Inf voxels); default false. */
  readImages?: boolean;
  /** Called after each case is checked. */
  onProgress?: (done: number, total: number, caseId: string) => void;
}

/** How the folder must look, appended to every dataset-level error. */
export function expectedLayout(dir: string): string {
  return [
    'Expected an nnU-Net v2 raw dataset:',
    `  ${join(dir, 'dataset.json')}   {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, ...}, "numTraining": N, "file_ending": ".nii.gz"}`,
    `  ${join(dir, 'imagesTr', 'CASE_0000.nii.gz')}   one CT image per case (channel 0000)`,
    `  ${join(dir, 'labelsTr', 'CASE.nii.gz')}        its label map: same grid, integer values declared in dataset.json`,
  ].join('\n');
}

function datasetError(dir: string, problems: string[]): MtDataError {
  const head = `${dir}: not a valid nnU-Net raw dataset (${problems.length} problem${problems.length === 1 ? '' : 's'}):`;
  return new MtDataError([head, ...problems.map((p) => `  - ${p}`), expectedLayout(dir)].join('\n'), { path: dir, problems });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listVisible(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function readDatasetJson(dir: string, problems: string[]): Promise<DatasetJson | null> {
  const path = join(dir, 'dataset.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    problems.push(`${path} is missing`);
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    problems.push(`${path} is not valid JSON (${message(e)})`);
    return null;
  }
  const found = datasetJsonProblems(value);
  if (found.length > 0) {
    problems.push(...found.map((p) => `${p} (in ${path})`));
    return null;
  }
  return value as DatasetJson;
}

/** Lists and validates a raw dataset; throws one MtDataError listing every problem found. */
export async function loadRawDataset(dir: string, options: LoadRawDatasetOptions = {}): Promise<RawDataset> {
  if (!(await isDirectory(dir))) {
    throw new MtDataError(`${dir}: dataset folder not found.\n${expectedLayout(dir)}`, { path: dir });
  }
  const problems: string[] = [];
  const json = await readDatasetJson(dir, problems);
  const ending = json?.file_ending ?? '.nii.gz';
  if (json && ending !== '.nii.gz' && ending !== '.nii') {
    problems.push(`dataset.json file_ending is "${ending}"; multitalent reads NIfTI only (".nii.gz" or ".nii")`);
  }
  const imagesDir = join(dir, 'imagesTr');
  const labelsDir = join(dir, 'labelsTr');
  const images = new Map<string, string>();
  const labels = new Map<string, string>();
  if (!(await isDirectory(imagesDir))) problems.push(`${imagesDir} is missing`);
  else {
    const channelRe = /^(.+)_(\d{4})$/;
    for (const f of await listVisible(imagesDir)) {
      if (!f.endsWith(ending)) {
        problems.push(`${join(imagesDir, f)} does not end in the file_ending "${ending}"`);
        continue;
      }
      const m = channelRe.exec(f.slice(0, -ending.length));
      if (!m) problems.push(`${join(imagesDir, f)} is not named CASE_XXXX${ending} (XXXX = 4-digit channel, 0000 for CT)`);
      else if (m[2] !== '0000') problems.push(`${join(imagesDir, f)} is channel ${m[2]}, but the dataset has one channel (0000)`);
      else images.set(m[1], join(imagesDir, f));
    }
  }
  if (!(await isDirectory(labelsDir))) problems.push(`${labelsDir} is missing`);
  else {
    for (const f of await listVisible(labelsDir)) {
      if (!f.endsWith(ending)) problems.push(`${join(labelsDir, f)} does not end in the file_ending "${ending}"`);
      else labels.set(f.slice(0, -ending.length), join(labelsDir, f));
    }
  }
  const cases: RawCaseRef[] = [];
  for (const [id, imagePath] of [...images].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const labelPath = labels.get(id);
    if (!labelPath) problems.push(`image ${imagePath} has no label ${join(labelsDir, id + ending)}`);
    else cases.push({ id, imagePath, labelPath });
  }
  for (const [id, labelPath] of labels) {
    if (!images.has(id)) problems.push(`label ${labelPath} has no image ${join(imagesDir, `${id}_0000${ending}`)}`);
  }
  if (json && images.size > 0 && json.numTraining !== images.size) {
    problems.push(`dataset.json numTraining is ${json.numTraining} but imagesTr holds ${images.size} case(s)`);
  }
  if ((await isDirectory(imagesDir)) && images.size === 0) problems.push(`${imagesDir} holds no CASE_0000${ending} images`);
  const labelValues = json ? declaredLabelValues(json) : [];

  if (json && (options.checkContents ?? true)) {
    const allowed = new Set(labelValues);
    let done = 0;
    for (const c of cases) {
      try {
        const [imageGeom, label] = await Promise.all([
          options.readImages ? readNifti(c.imagePath).then((r) => r.geometry, (e: unknown) => e) : readNiftiHeader(c.imagePath).catch((e: unknown) => e),
          readNiftiLabel(c.labelPath).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
        ]);
        if (imageGeom instanceof Error) problems.push(message(imageGeom));
        if (label instanceof Error) problems.push(message(label));
        if (imageGeom instanceof Error || label instanceof Error) {
          options.onProgress?.(++done, cases.length, c.id);
          continue;
        }
        problems.push(...geometryProblems(c, imageGeom as NiftiGeometry, (label as NiftiLabel).geometry));
        const counts = new Uint32Array(256);
        const voxels = label.volume.data;
        for (let i = 0; i < voxels.length; i++) counts[voxels[i]]++;
        const extra = [...counts.keys()].filter((v) => counts[v] > 0 && !allowed.has(v));
        if (extra.length > 0) {
          problems.push(
            `${c.labelPath} holds label value(s) ${extra.join(', ')} (${extra.map((v) => counts[v]).join(', ')} voxels) that dataset.json does not declare (declared: ${labelValues.join(', ')})`,
          );
        }
      } catch (e) {
        problems.push(message(e));
      }
      options.onProgress?.(++done, cases.length, c.id);
    }
  }
  if (problems.length > 0 || !json) throw datasetError(dir, problems);
  return { dir, folder: basename(dir), json, labelValues, cases };
}

function geometryProblems(c: RawCaseRef, image: NiftiGeometry, label: NiftiGeometry): string[] {
  if (image.shape.some((d, i) => d !== label.shape[i])) {
    return [`case ${c.id}: image is ${image.shape.join('x')} voxels [z,y,x] but its label is ${label.shape.join('x')}`];
  }
  const out: string[] = [];
  const spacingOff = image.spacing.some((s, i) => Math.abs(s - label.spacing[i]) > 1e-3 * Math.max(s, 1e-6));
  if (spacingOff) {
    out.push(`case ${c.id}: image spacing ${image.spacing.map((s) => s.toFixed(4)).join('x')} mm differs from its label's ${label.spacing.map((s) => s.toFixed(4)).join('x')}`);
  }
  const diff = affineMaxDiff(image.affine, label.affine);
  if (!spacingOff && diff > 1e-2) {
    out.push(`case ${c.id}: image and label affines differ by up to ${diff.toFixed(4)} mm (different origin or orientation); resave the label with the image's header`);
  }
  return out;
}

/** Loads one case's image (float32 intensities) and label (uint8), checking they share a grid. */
export async function loadRawCase(dataset: RawDataset, which: string | RawCaseRef): Promise<RawCase> {
  const ref = typeof which === 'string' ? dataset.cases.find((c) => c.id === which) : which;
  if (!ref) {
    throw MtDataError.about(dataset.dir, `has no case '${String(which)}'`, `Known cases: ${dataset.cases.map((c) => c.id).join(', ')}`);
  }
  const [image, label] = await Promise.all([readNifti(ref.imagePath, { orientation: 'ras' }), readNiftiLabel(ref.labelPath, { orientation: 'ras' })]);
  const problems = geometryProblems(ref, image.geometry, label.geometry);
  if (problems.length > 0) throw datasetError(dataset.dir, problems);
  return { id: ref.id, image: image.volume, label: label.volume, geometry: image.geometry, affine: image.affine };
}

/**
 * What is wrong with a dataset's classes (from the .mt file) against its dataset.json: repeated
 * names, empty label lists, the background label, and label values dataset.json does not declare
 * (a class whose labels are missing from the data would train on an empty target). One message per
 * problem, each naming the dataset; empty when the classes fit.
 */
export function classProblems(name: string, classes: readonly { name: string; labels: readonly number[] }[], ds: Pick<RawDataset, 'dir' | 'labelValues'>): string[] {
  const declared = new Set(ds.labelValues);
  const problems: string[] = [];
  const names = new Set<string>();
  for (const c of classes) {
    if (names.has(c.name)) problems.push(`class '${c.name}' is declared twice`);
    names.add(c.name);
    if (c.labels.length === 0) problems.push(`class '${c.name}' has no label values`);
    for (const v of c.labels) {
      if (v === 0) problems.push(`class '${c.name}' includes label 0, which is background`);
      else if (!declared.has(v)) {
        problems.push(
          `class '${c.name}' uses label ${v}, which ${join(ds.dir, 'dataset.json')} does not declare (declared: ${ds.labelValues.join(', ')}); ` +
            `fix the class's labels in the .mt file, or point the dataset's root at the folder that holds this label`,
        );
      }
    }
  }
  return problems.map((p) => `dataset '${name}': ${p}`);
}
