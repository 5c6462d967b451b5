/**
 * A spec never chooses where a run writes: a synthetic dataset whose `root` climbs out of the data
 * root is refused before anything is written, naming the field (src/runtime/confine.ts). Removing
 * the check makes `mtc run` synthesise the collection into the outside folder, and these fail.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { compileProgram, loadProgram } from '../../src/compiler/index.js';
import { confinementProblems } from '../../src/runtime/confine.js';
import { captureIO } from '../cli/helpers.js';

const spec = (root: string) => `
dataset liver {
  root "${root}"
  synthetic quickstart seed 5
  classes { liver [1, 2] }
}
architecture tiny { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }
schedule s { epochs 1  iterations 1  validation 0  lr poly(0.01, 0.9) }
experiment e { datasets [liver]  architecture tiny  schedule s  spacing [8, 8, 8]  seed 3 }
`;

async function setup(root: string): Promise<{ dir: string; outside: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mt-trust-confine-'));
  mkdirSync(join(dir, 'work', 'data'), { recursive: true });
  await writeFile(join(dir, 'work', 'e.mt'), spec(root));
  return { dir, outside: join(dir, 'tmp', 'x') };
}

async function listing(dir: string): Promise<string[]> {
  return existsSync(dir) ? (await readdir(dir, { recursive: true })).map(String).sort() : [];
}

describe('writes stay inside the data root, the runs folder and the cache', () => {
  it('mtc run refuses a root that climbs out of the data root, naming the field, and writes nothing', async () => {
    const { dir, outside } = await setup('../../tmp/x/Dataset901_SynthLiver');
    const io = captureIO(join(dir, 'work'));
    const code = await main(['run', 'e.mt', '--no-tui', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], io);
    const err = io.stderr.join('\n');
    expect(code).not.toBe(0);
    expect(err).toContain("dataset 'liver': field `root` \"../../tmp/x/Dataset901_SynthLiver\"");
    expect(err).toContain(`outside the data root ${join(dir, 'work', 'data')}`);
    expect(err).toContain('--allow-outside-data-root');
    expect(existsSync(join(dir, 'tmp'))).toBe(false);
    expect(existsSync(outside)).toBe(false);
    expect(await listing(join(dir, 'work'))).toEqual(['data', 'e.mt']); // no runs folder, no cache, no data
  }, 60_000);

  it('an absolute root is refused too; --dry-run says so and exits 1', async () => {
    const { dir, outside } = await setup('/nonexistent-mt-trust/Dataset901_SynthLiver');
    const io = captureIO(join(dir, 'work'));
    const code = await main(['run', 'e.mt', '--dry-run', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], io);
    expect(code).toBe(1);
    expect(io.stdout.join('\n')).toContain("dataset 'liver': field `root` \"/nonexistent-mt-trust/Dataset901_SynthLiver\"");
    expect(existsSync(outside)).toBe(false);
    const allowed = captureIO(join(dir, 'work'));
    expect(await main(['run', 'e.mt', '--dry-run', '--allow-outside-data-root', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], allowed)).toBe(0);
  }, 60_000);

  it('a symbolic link inside the data root that points out of it does not get around the rule', async () => {
    const { dir } = await setup('link/Dataset901_SynthLiver');
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'work', 'data', 'link'));
    const { graph } = compileProgram(await loadProgram(join(dir, 'work', 'e.mt')));
    const problems = confinementProblems(graph!, join(dir, 'work', 'data'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('through a symbolic link');
  });

  it('roots inside the data root, and datasets already present anywhere (only read), are fine', async () => {
    const { dir } = await setup('quickstart/Dataset901_SynthLiver');
    const { graph } = compileProgram(await loadProgram(join(dir, 'work', 'e.mt')));
    expect(confinementProblems(graph!, join(dir, 'work', 'data'))).toEqual([]);
    const present = await setup('../../tmp/x/Dataset901_SynthLiver');
    mkdirSync(join(present.outside, 'Dataset901_SynthLiver'), { recursive: true });
    await writeFile(join(present.outside, 'Dataset901_SynthLiver', 'dataset.json'), '{}');
    const g2 = compileProgram(await loadProgram(join(present.dir, 'work', 'e.mt'))).graph!;
    expect(confinementProblems(g2, join(present.dir, 'work', 'data'))).toEqual([]);
  });
});
