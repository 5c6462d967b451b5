import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importNnunet } from '../../../src/runtime/import/index.js';
import { runPython } from '../data/python.js';
import { buildReference, HAS_TORCH, type Reference, TORCH_SKIP_REASON } from './reference.js';

/** What nnU-Net cannot give mtc is refused, and the message names the key. */
describe.skipIf(!HAS_TORCH)('plans: the variants nnU-Net writes are read, what mtc cannot build is refused naming the key', () => {
  let plain: Reference;
  let resenc: Reference;
  const copies: string[] = [];

  beforeAll(() => {
    plain = buildReference(['v2', '--arch', 'plain']);
    resenc = buildReference(['v2', '--arch', 'resenc']);
  }, 120_000);
  afterAll(() => {
    for (const d of [plain?.out, resenc?.out, ...copies]) if (d) rmSync(d, { recursive: true, force: true });
  });

  /** A copy of `ref`'s model folder whose plans.json (or dataset.json) `edit` changed. */
  function edited(ref: Reference, edit: (plans: any, dataset: any) => void, folder = 'nnUNetTrainer__nnUNetPlans__3d_fullres'): string {
    const out = mkdtempSync(join(tmpdir(), 'mtc-refuse-'));
    copies.push(out);
    const dir = join(out, 'Dataset017_Organs', folder);
    cpSync(ref.modelDir, dir, { recursive: true });
    const plans = JSON.parse(readFileSync(join(dir, 'plans.json'), 'utf8'));
    const dataset = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8'));
    edit(plans, dataset);
    writeFileSync(join(dir, 'plans.json'), JSON.stringify(plans));
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify(dataset));
    return dir;
  }
  const arch = (plans: any) => plans.configurations['3d_fullres'].architecture;

  it("accepts nnU-Net's older plans format (UNet_class_name, as TotalSegmentator's models have) to the same network", async () => {
    const old = edited(plain, (p) => {
      const c = p.configurations['3d_fullres'];
      const kw = c.architecture.arch_kwargs;
      Object.assign(c, {
        UNet_class_name: 'PlainConvUNet',
        UNet_base_num_features: 8,
        unet_max_num_features: 32,
        n_conv_per_stage_encoder: kw.n_conv_per_stage,
        n_conv_per_stage_decoder: kw.n_conv_per_stage_decoder,
        num_pool_per_axis: [2, 3, 3],
        pool_op_kernel_sizes: kw.strides,
        conv_kernel_sizes: kw.kernel_sizes,
      });
      delete c.architecture;
    });
    const a = await importNnunet([plain.modelDir]);
    const b = await importNnunet([old]);
    expect(b.architecture).toEqual(a.architecture);
    for (const [k, v] of a.folds[0].weights) expect(b.folds[0].weights.get(k)).toEqual(v);
  });

  it('a trainer without mirroring (TotalSegmentator\'s) turns test-time mirroring off', async () => {
    const a = await importNnunet([plain.modelDir]);
    expect(a.mirror).toBe(true);
    const dir = edited(plain, () => undefined, 'nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres');
    const b = await importNnunet([dir]);
    expect(b.source.trainer).toBe('nnUNetTrainerNoMirroring');
    expect(b.mirror).toBe(false);
    expect(b.notes.join(' ')).toMatch(/without test-time mirroring/);
  });

  it('an unknown network class', async () => {
    const dir = edited(plain, (p) => (arch(p).network_class_name = 'dynamic_network_architectures.architectures.primus.Primus'));
    await expect(importNnunet([dir])).rejects.toThrow(/configurations\.3d_fullres\.architecture\.network_class_name is '.*Primus', a network mtc does not build/);
  });

  it('a keyword mtc cannot build', async () => {
    const dir = edited(resenc, (p) => (arch(p).arch_kwargs.squeeze_excitation = true));
    await expect(importNnunet([dir])).rejects.toThrow(/architecture\.arch_kwargs\.squeeze_excitation is a keyword of ResidualEncoderUNet that mtc cannot build/);
    const relu = edited(plain, (p) => (arch(p).arch_kwargs.nonlin = 'torch.nn.ReLU'));
    await expect(importNnunet([relu])).rejects.toThrow(/arch_kwargs\.nonlin is 'torch\.nn\.ReLU'; mtc builds LeakyReLU\(0\.01\) only/);
    const eps = edited(plain, (p) => (arch(p).arch_kwargs.norm_op_kwargs.eps = 1e-3));
    await expect(importNnunet([eps])).rejects.toThrow(/norm_op_kwargs\.eps is 0\.001/);
    const twoD = edited(plain, (p) => (arch(p).arch_kwargs.conv_op = 'torch.nn.modules.conv.Conv2d'));
    await expect(importNnunet([twoD])).rejects.toThrow(/conv_op is 'torch\.nn\.modules\.conv\.Conv2d': mtc imports 3D networks only/);
    const mr = edited(plain, (p) => (p.configurations['3d_fullres'].normalization_schemes = ['ZScoreNormalization']));
    await expect(importNnunet([mr])).rejects.toThrow(/normalization_schemes is \["ZScoreNormalization"\]; mtc normalises CT only/);
  });

  it('a tensor of the wrong shape', async () => {
    const dir = edited(plain, (p) => (arch(p).arch_kwargs.features_per_stage = [8, 16, 32, 48]));
    await expect(importNnunet([dir])).rejects.toThrow(/'network_weights': 'encoder\.stages\.3\.0\.convs\.0\.conv\.weight' has shape \[32, 32, 3, 3, 3\], but PlainConvUNet with these plans needs \[48, 32, 3, 3, 3\]/);
  });

  it('a tensor no part of the network uses, a missing one, and an output count the labels do not give', async () => {
    // our own reference checkpoint, edited with torch (trusted: the test wrote it)
    const withCheckpoint = (code: string): string => {
      const dir = edited(plain, () => undefined);
      runPython(`import torch,sys\np=sys.argv[1]\nc=torch.load(p)\nsd=c['network_weights']\n${code}\ntorch.save(c,p)`, [join(dir, 'fold_0', 'checkpoint_final.pth')]);
      return dir;
    };
    const extra = withCheckpoint("sd['encoder.stages.0.0.convs.0.extra.weight'] = torch.zeros(3)");
    await expect(importNnunet([extra])).rejects.toThrow(/'network_weights' holds 'encoder\.stages\.0\.0\.convs\.0\.extra\.weight' \[3\], which no part of PlainConvUNet with these plans uses/);
    const missing = withCheckpoint("del sd['decoder.stages.1.convs.0.norm.bias']; del sd['decoder.stages.1.convs.0.all_modules.1.bias']");
    await expect(importNnunet([missing])).rejects.toThrow(/'network_weights' lacks 'decoder\.stages\.1\.convs\.0\.norm\.bias'/);
    const more = edited(plain, (_, d) => (d.labels.liver = 3));
    await expect(importNnunet([more])).rejects.toThrow(/'decoder\.seg_layers\.2\.weight' has shape \[3, 8, 1, 1, 1\], but PlainConvUNet with these plans needs \[4, 8, 1, 1, 1\]/);
  });
});

if (!HAS_TORCH) it.skip(`refusals of nnU-Net models: ${TORCH_SKIP_REASON}`, () => {});
