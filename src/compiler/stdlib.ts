/** Locating the package's stdlib/ folder, from src/ (vitest) or dist/ (built) alike. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | null | undefined;

/** The folder holding the package's package.json, found by walking up from this module; null if none. */
export function packageRoot(): string | null {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      cachedRoot = null;
      return null;
    }
    dir = parent;
  }
}

/** The package's stdlib/ folder, or null when the package layout is broken. */
export function stdlibDir(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'stdlib');
}

/** `std/NAME` or `std/NAME.mt` -> NAME (which may hold folders: `std/datasets/msd` -> `datasets/msd`), else null. */
export function stdModuleName(spec: string): string | null {
  const m = /^std\/((?:[A-Za-z0-9_-]+\/)*[A-Za-z0-9_-]+)(?:\.mt)?$/.exec(spec);
  return m ? m[1] : null;
}
