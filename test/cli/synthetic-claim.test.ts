// experiments/synthetic_claim.mt (issue #9, section 7) is runnable as written: `mtc run --all
// --dry-run` plans every stage, synthesises nothing, writes nothing, and finds nothing the runtime
// cannot execute. (What it compiles to, and that the comparison is fair: test/compiler/synthetic-claim.test.ts.)
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIO } from './helpers.js';

describe('mtc run experiments/synthetic_claim.mt --all --dry-run', () => {
  it('plans all 7 experiments with nothing the runtime cannot execute', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-claim-'));
    const io = captureIO();
    const code = await main(['run', 'experiments/synthetic_claim.mt', '--all', '--dry-run', '--data', join(dir, 'data'), '--runs', join(dir, 'runs')], io);
    const text = [...io.stdout, ...io.stderr].join('\n');
    expect(text).not.toMatch(/cannot execute|not implemented/);
    expect(code).toBe(0);
    expect(text).toMatch(/33 stage\(s\) would run, 0 cached/);
    expect(text).toMatch(/^ *\d+\. run +train:claim_md$/m);
    expect(text).toMatch(/^ *\d+\. run +finetune:claim_kidney_finetune$/m);
    expect(text).toContain('6 epochs x 100 iterations (all 6), sgd, batch 2, seed 42');
    expect(text).toContain('6 epochs x 25 iterations (all 6), sgd, batch 2, seed 42');
    expect(text).toContain('10 epochs x 25 iterations (heads 1 + all 9), sgd, batch 2, seed 42');
    expect(text).toContain('10 epochs x 25 iterations (all 10), sgd, batch 2, seed 42');
    expect(text).toContain('synthesised on first use: synth_liver, synth_liver_tumour, synth_abdomen, synth_vessel, synth_kidney');
    expect(existsSync(join(dir, 'runs'))).toBe(false);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});
