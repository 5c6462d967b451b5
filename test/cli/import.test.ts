import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { compileProgram, loadProgram } from '../../src/compiler/index.js';
import type { TrainStage } from '../../src/graph/types.js';
import { readCheckpoint } from '../../src/runtime/model/checkpoint.js';
import { isHeadParam } from '../../src/runtime/model/unet.js';
import { buildReference, HAS_TORCH, type Reference, TORCH_SKIP_REASON } from '../runtime/import/reference.js';
import { captureIO, runFolder } from './helpers.js';

describe.skipIf(!HAS_TORCH)('mtc import, then fine-tuning from the imported model', () => {
  let dir = '';
  let ref: Reference;
  let model = '';
  const io = () => captureIO(dir);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtc-import-cli-'));
    ref = buildReference(['v2', '--arch', 'plain', '--spacing', '8,8,8', '--seed', '5']);
    model = join(dir, 'organs_model');
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    if (ref) await rm(ref.out, { recursive: true, force: true });
  });

  it('writes the checkpoint, plans.json, model.mt and import.json, and says what it mapped', async () => {
    const c = io();
    expect(await main(['import', ref.modelDir, '-o', 'organs_model'], c)).toBe(0);
    expect(c.stderr).toEqual([]);
    const text = c.stdout.join('\n');
    expect(text).toContain('nnU-Net v2 PlainConvUNet (3d_fullres, trainer nnUNetTrainer, zip checkpoint)');
    expect(text).toMatch(new RegExp(`fold 0: \\d+ tensors mapped \\(${ref.parameters} parameters\\), \\d+ aliases counted once`));
    for (const f of ['model.json', 'weights.bin', 'plans.json', 'model.mt', 'import.json']) expect(existsSync(join(model, f))).toBe(true);
    const plans = JSON.parse(await readFile(join(model, 'plans.json'), 'utf8'));
    expect(plans).toMatchObject({ format: 'multitalent-plans', activation: 'softmax', axisOrder: 'zyx', preprocessing: { spacing: [8, 8, 8], normalization: { kind: 'ct' } } });
    expect(plans.preprocessing.normalization.statistics.organs).toMatchObject({ mean: 63.44, std: 175.48, p005: -927, p995: 275 });
    expect(plans.heads.map((h: { name: string }) => h.name)).toEqual(['background', 'spleen', 'kidney_right']);
    const manifest = JSON.parse(await readFile(join(model, 'model.json'), 'utf8'));
    expect(manifest.output).toEqual({
      activation: 'softmax',
      labels: [0, 1, 2],
      classes: [
        { dataset: 'organs', name: 'spleen', labels: [1] },
        { dataset: 'organs', name: 'kidney_right', labels: [2] },
      ],
    });
    const report = JSON.parse(await readFile(join(model, 'import.json'), 'utf8'));
    const used = report.folds[0].used as { torch: string }[];
    const aliases = report.folds[0].aliases as { torch: string; of: string }[];
    expect(used.length).toBe(manifest.weights.length);
    expect(aliases.every((a) => used.some((u) => u.torch === a.of))).toBe(true);
  });

  it('refuses to overwrite a folder that holds something', async () => {
    const c = io();
    expect(await main(['import', ref.modelDir, '-o', 'organs_model'], c)).toBe(1);
    expect(c.stderr.join('\n')).toMatch(/organs_model: already exists and is not empty/);
  });

  it('model.mt checks and compiles to the architecture of model.json', async () => {
    const src = join(model, 'model.mt');
    const ft = join(dir, 'arch.mt');
    await writeFile(
      ft,
      `import "${src}"\nschedule s { epochs 1 iterations 1 }\nexperiment e { datasets [organs]  architecture organs_3d_fullres  schedule s }\n`,
    );
    const res = compileProgram(await loadProgram(ft));
    expect(res.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const train = res.graph!.stages.find((s) => s.kind === 'train') as TrainStage;
    const manifest = JSON.parse(await readFile(join(model, 'model.json'), 'utf8'));
    expect(train.architecture).toEqual(manifest.architecture);
  });

  it('a fine-tune with pretrained "DIR" copies the backbone and trains fresh heads', async () => {
    await writeFile(
      join(dir, 'ft.mt'),
      `import "${join(model, 'model.mt')}"
dataset kidney {
  root "quickstart/Dataset905_SynthKidney"
  synthetic quickstart seed 5
  classes { kidney [1, 2]  kidney_tumour [2] }
}
schedule heads_only { epochs 1  iterations 2  phase heads { epochs 1  lr constant(0.01) } }
experiment ft {
  pretrained   "${model}"
  architecture organs_3d_fullres
  datasets     [kidney]
  schedule     heads_only
  batch        1
  seed         3
}
`,
    );
    const c = io();
    const code = await main(['run', 'ft.mt', '--no-tui', '--data', 'data', '--runs', 'runs', '--backend', 'cpu'], c);
    expect(c.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    const text = c.stdout.join('\n');
    const imported = await readCheckpoint(model);
    const backbone = [...imported.weights.keys()].filter((k) => !isHeadParam(k));
    expect(text).toContain(`initialised ${backbone.length} backbone tensors from ${model}`);
    const runDir = await runFolder(join(dir, 'runs'), 'ft');
    const stages = (await readdir(join(runDir, 'stages'))).filter((s) => existsSync(join(runDir, 'stages', s, 'checkpoints', 'final', 'model.json')));
    expect(stages).toHaveLength(1);
    const trained = await readCheckpoint(join(runDir, 'stages', stages[0], 'checkpoints', 'final'));
    // the backbone is the imported one (only the heads trained), the heads are new: 2 classes, not 3 channels
    for (const k of backbone) expect(trained.weights.get(k)!.values).toEqual(imported.weights.get(k)!.values);
    expect(trained.manifest.heads.map((h) => h.name)).toEqual(['kidney', 'kidney_tumour']);
    expect(trained.weights.get('head.weight')!.shape).toEqual([1, 1, 1, 8, 2]);
    expect(imported.weights.get('head.weight')!.shape).toEqual([1, 1, 1, 8, 3]);
  }, 240_000);
});

if (!HAS_TORCH) it.skip(`mtc import of nnU-Net models: ${TORCH_SKIP_REASON}`, () => {});
