/** Optional cross-checks against nibabel / scipy / scikit-image: detection and a tiny runner. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';

function has(modules: string): boolean {
  if (!existsSync(PYTHON)) return false;
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  return r.status === 0;
}

export const HAS_NIBABEL = has('nibabel, numpy');
export const NIBABEL_SKIP_REASON =
  'nibabel not available: /usr/bin/python3 -c "import nibabel" failed (apt-get install -y python3-nibabel to run these checks)';

export const HAS_SCIPY_STACK = has('nibabel, numpy, scipy.ndimage, skimage.transform');
export const SCIPY_SKIP_REASON =
  'scipy/scikit-image/nibabel not available in /usr/bin/python3 (apt-get install -y python3-nibabel python3-scipy python3-skimage to run these checks)';

/** Runs a Python snippet with `args` as sys.argv[1:]; returns stdout, throws with stderr on failure. */
export function runPython(code: string, args: string[] = []): string {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Runs a Python script file. */
export function runPythonFile(file: string, args: string[] = []): string {
  const r = spawnSync(PYTHON, [file, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export const HAS_SCIPY = has('numpy, scipy.ndimage');
export const SCIPY_ONLY_SKIP_REASON = 'scipy not available in /usr/bin/python3 (apt-get install -y python3-scipy to run these checks)';

export const HAS_TORCH = has('torch, numpy');
export const TORCH_SKIP_REASON = 'PyTorch not available in /usr/bin/python3 (apt-get install -y python3-torch to run these checks)';
