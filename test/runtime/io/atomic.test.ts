import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeDeadTemps, tempSibling } from '../../../src/runtime/io/atomic.js';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid ?? 999_999;
}

describe('removeDeadTemps', () => {
  it('removes temporary files of killed writers and keeps those of live ones and everything else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mt-atomic-'));
    const dead = `.state.json.tmp-${deadPid()}-d6aa9334`;
    const mine = tempSibling(join(dir, 'graph.yaml')).split('/').pop() ?? '';
    const live = `.run.json.tmp-${process.ppid}-0badc0de`;
    for (const n of [dead, mine, live, 'state.json', '.hidden', '.x.tmp-12-notahexx']) await writeFile(join(dir, n), 'x');
    expect(await removeDeadTemps(dir)).toEqual([dead]);
    expect((await readdir(dir)).sort()).toEqual([mine, live, 'state.json', '.hidden', '.x.tmp-12-notahexx'].sort());
  });

  it('is a no-op on a folder that does not exist', async () => {
    expect(await removeDeadTemps(join(tmpdir(), 'mt-atomic-missing-folder'))).toEqual([]);
  });
});
