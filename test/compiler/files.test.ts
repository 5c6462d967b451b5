import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkProgram, DIAGNOSTIC_CODES, loadProgram, packageRoot, stdlibDir } from '../../src/compiler/index.js';

const stdFiles = (readdirSync('stdlib', { recursive: true }) as string[]).filter((f) => f.endsWith('.mt')).sort();
const experimentFiles = readdirSync('experiments').filter((f) => f.endsWith('.mt'));

describe('shipped .mt files', () => {
  it('finds the package root and stdlib from src/', () => {
    expect(packageRoot()).toBe(process.cwd());
    expect(stdlibDir()).toBe(`${process.cwd()}/stdlib`);
  });

  it('ships the stdlib modules the docs promise', () => {
    expect(stdFiles).toEqual([
      'architectures.mt', 'augmentation.mt', 'datasets/amos.mt', 'datasets/btcv.mt', 'datasets/kits19.mt', 'datasets/msd.mt',
      'datasets/multitalent.mt', 'datasets/nih_pancreas.mt', 'datasets/thorax.mt', 'datasets/totalsegmentator.mt', 'sampling.mt', 'schedules.mt',
    ]);
  });

  for (const f of stdFiles) {
    it(`stdlib/${f} checks clean`, async () => {
      expect(checkProgram(await loadProgram(`stdlib/${f}`)).diagnostics).toEqual([]);
    });
  }

  for (const f of experimentFiles) {
    it(`experiments/${f} checks clean`, async () => {
      expect(checkProgram(await loadProgram(`experiments/${f}`)).diagnostics).toEqual([]);
    });
  }

  it('std imports resolve to the package stdlib', async () => {
    const program = await loadProgram('experiments/kits_finetune.mt');
    expect([...program.files.keys()]).toEqual([
      'experiments/kits_finetune.mt', 'experiments/multitalent_md.mt', 'std/datasets/multitalent.mt', 'std/datasets/msd.mt', 'std/datasets/btcv.mt',
      'std/datasets/thorax.mt', 'std/datasets/nih_pancreas.mt', 'std/datasets/kits19.mt', 'std/architectures.mt', 'std/schedules.mt', 'std/augmentation.mt', 'std/sampling.mt',
    ]);
    expect(program.files.get('std/datasets/msd.mt')!.absolutePath).toBe(`${process.cwd()}/stdlib/datasets/msd.mt`);
  });

  it('the stdlib fine-tune schedule is 10 heads + 50 warm-up + poly for the rest of 1000', async () => {
    const { compileProgram, loadProgramWith, memoryHost } = await import('../../src/compiler/index.js');
    const main = `import "std/schedules"\nimport "std/architectures"
dataset a { root "A" cases 3 classes { x [1] } }
dataset b { root "B" cases 3 classes { y [1] } }
experiment pre { datasets [a] architecture multitalent_unet schedule multitalent_pretrain spacing [1.5, 1, 1] batch 4 }
experiment ft { pretrained pre datasets [b] schedule multitalent_finetune }
`;
    const host = memoryHost({ '/mem/m.mt': main }, { schedules: readFileSync('stdlib/schedules.mt', 'utf8'), architectures: readFileSync('stdlib/architectures.mt', 'utf8') });
    const { graph, diagnostics } = compileProgram(await loadProgramWith('/mem/m.mt', host));
    expect(diagnostics).toEqual([]);
    const ft = graph!.stages.find((s) => s.kind === 'finetune');
    if (ft?.kind !== 'finetune') throw new Error('no finetune stage');
    expect(ft.schedule.phases.map((p) => [p.trains, p.epochs, p.lr.kind])).toEqual([['heads', 10, 'linear'], ['all', 50, 'linear'], ['all', 940, 'poly']]);
    const pre = graph!.stages.find((s) => s.kind === 'train');
    if (pre?.kind !== 'train') throw new Error('no train stage');
    expect(pre.schedule.epochs).toBe(2000);
    expect(pre.architecture.strides).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]]);
  });

  it('docs/language.md documents every diagnostic code', () => {
    const doc = readFileSync('docs/language.md', 'utf8');
    for (const code of Object.keys(DIAGNOSTIC_CODES)) expect(doc, code).toContain(code);
  });
});
