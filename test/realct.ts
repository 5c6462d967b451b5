/**
 * The real CT fixtures (../shared/fixtures/realct next to the project; also looked up one level
 * higher, for git worktrees, and at $MTC_REALCT). Read in place, never copied into the repository.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const REALCT_DIR: string | null =
  [process.env.MTC_REALCT, join(ROOT, '..', 'shared', 'fixtures', 'realct'), join(ROOT, '..', '..', 'shared', 'fixtures', 'realct')].find(
    (d): d is string => Boolean(d) && existsSync(join(d as string, 'sub-spleen2_ct.nii.gz')),
  ) ?? null;

export const REALCT_SKIP_REASON = 'the real CT fixtures (../shared/fixtures/realct, or $MTC_REALCT) are not here';
