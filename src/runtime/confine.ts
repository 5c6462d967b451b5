/**
 * Where a run may write (docs/trust.md). A `.mt` file may come from someone else, so what it says
 * is never allowed to choose a place to write outside three folders the user chose on the command
 * line: the data root (`--data`: built-in synthetic datasets are synthesised there), the runs folder
 * (`--runs`: run folders and the stage store) and the preprocessing cache (`--cache`). The one field
 * of a spec that makes the runtime write is a synthetic dataset's `root` (when its folder is missing
 * the whole synthetic collection is written into the folder above it); a root that climbs out of the
 * data root (`"../../tmp/x/Dataset901_SynthLiver"`, an absolute path, a symbolic link pointing out) is
 * refused before anything is written, unless `--allow-outside-data-root` says so.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import type { DatasetSpec, RuntimeGraph } from '../graph/types.js';
import { MtDataError } from './data/errors.js';

/** The flag that widens what a spec may write. */
export const ALLOW_OUTSIDE_FLAG = '--allow-outside-data-root';

/** Whether `path` is `root` or inside it (lexically). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** `path` with its longest existing prefix replaced by its real path (symbolic links resolved). */
function realPrefix(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  for (;;) {
    if (existsSync(head)) {
      try {
        return join(realpathSync(head), ...tail.reverse());
      } catch {
        return resolve(path);
      }
    }
    const up = dirname(head);
    if (up === head) return resolve(path);
    tail.push(head.slice(up.length + (up.endsWith(sep) ? 0 : 1)));
    head = up;
  }
}

/** The folder a synthetic dataset's synthesis writes into (its collection: the folder above the dataset). */
function synthesisTarget(dataRoot: string, spec: DatasetSpec): string {
  const dir = isAbsolute(spec.root) ? spec.root : resolve(dataRoot, spec.root);
  return dirname(dir);
}

/**
 * One line per field of the graph that would make the run write outside the data root: synthetic
 * datasets whose folder is missing (so they would be synthesised) and whose collection folder lies
 * outside it, lexically or through a symbolic link.
 */
export function confinementProblems(graph: RuntimeGraph, dataRoot: string, only?: readonly string[]): string[] {
  const out: string[] = [];
  const realRoot = realPrefix(dataRoot);
  for (const d of graph.datasets) {
    if (!d.synthetic || (only && !only.includes(d.name))) continue;
    const dir = isAbsolute(d.root) ? d.root : resolve(dataRoot, d.root);
    if (existsSync(join(dir, 'dataset.json'))) continue; // present: only read, never written
    const target = synthesisTarget(dataRoot, d);
    if (isInside(dataRoot, target) && isInside(realRoot, realPrefix(target))) continue;
    const where = isInside(dataRoot, target) ? `${target} (through a symbolic link: ${realPrefix(target)})` : target;
    out.push(
      `dataset '${d.name}': field \`root\` "${d.root}" puts its synthetic collection in ${where}, outside the data root ${dataRoot}; ` +
        `synthesising it would write there. Give a root inside the data root (e.g. "${d.root.split(/[\\/]/).slice(-2).join('/')}"), ` +
        `point --data at a folder that holds it, or pass ${ALLOW_OUTSIDE_FLAG} to let this spec write there`,
    );
  }
  return out;
}

/** Throws MtDataError naming each field of `confinementProblems`, unless `allow`. */
export function assertConfined(graph: RuntimeGraph, dataRoot: string, allow: boolean | undefined, only?: readonly string[]): void {
  if (allow) return;
  const problems = confinementProblems(graph, dataRoot, only);
  if (problems.length === 0) return;
  throw new MtDataError(
    problems.length === 1
      ? `refused: ${problems[0]}`
      : `refused: ${problems.length} datasets would be written outside the data root:\n${problems.map((p) => `  ${p}`).join('\n')}`,
  );
}
