/** Optional cross-checks against nibabel: detection and a tiny runner. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PYTHON = '/usr/bin/python3';

function detect(): boolean {
  if (!existsSync(PYTHON)) return false;
  const r = spawnSync(PYTHON, ['-c', 'import nibabel, numpy'], { encoding: 'utf8' });
  return r.status === 0;
}

export const HAS_NIBABEL = detect();
export const NIBABEL_SKIP_REASON =
  'nibabel not available: /usr/bin/python3 -c "import nibabel" failed (apt-get install -y python3-nibabel to run these checks)';

/** Runs a Python snippet with `args` as sys.argv[1:]; returns stdout, throws with stderr on failure. */
export function runPython(code: string, args: string[] = []): string {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
