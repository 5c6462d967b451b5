// The paper's three networks (stdlib `architectures.mt` as experiments/multitalent_md.mt trains them:
// patch [96, 192, 192], 47 outputs) counted by the network registry and by the PyTorch builds of the
// same definitions in bench/pytorch_reference.py (only built, never run). docs/models.md lists the
// counts next to the literature's.
import { describe, expect, it } from 'vitest';
import { compileProgram, loadProgram } from '../../../src/compiler/index.js';
import type { ArchitectureSpec } from '../../../src/graph/types.js';
import { parameterSpecs } from '../../../src/runtime/model/registry.js';
import { HAS_TORCH, runPythonFile, TORCH_SKIP_REASON } from '../data/python.js';

const EXPECTED: Record<string, number> = { md_unet: 29_320_565, md_resenc: 71_766_411, md_swin: 62_188_913 };

function count(arch: ArchitectureSpec, heads: number): number {
  return parameterSpecs(arch, heads).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

function pytorchArgs(arch: ArchitectureSpec, heads: number): string[] {
  const common = ['count', '--arch', arch.kind, '--classes', String(heads)];
  if (arch.kind === 'swin_unetr') return [...common, '--feature-size', String(arch.swin!.featureSize)];
  return [
    ...common,
    '--features', arch.features.join(','),
    '--strides', arch.strides.map((s) => s.join(',')).join(';'),
    ...(arch.blocksPerStage ? ['--blocks', arch.blocksPerStage.join(',')] : []),
    ...(arch.deepSupervision ? ['--deep-supervision'] : []),
  ];
}

if (!HAS_TORCH) console.warn(`parameter counts: ${TORCH_SKIP_REASON}`);

describe('parameter counts of the paper\'s networks', () => {
  it('U-Net, ResEnc U-Net and SwinUNETR at patch [96, 192, 192] with 47 outputs', async () => {
    const { graph, diagnostics } = compileProgram(await loadProgram('experiments/multitalent_md.mt'), { experiments: Object.keys(EXPECTED) });
    expect(graph, diagnostics.map((d) => d.message).join('\n')).toBeDefined();
    for (const [exp, want] of Object.entries(EXPECTED)) {
      const stage = graph!.stages.find((s) => s.kind === 'train' && s.experiment === exp);
      if (!stage || stage.kind !== 'train') throw new Error(`no training of ${exp}`);
      expect(stage.architecture.patch).toEqual([96, 192, 192]);
      expect(stage.heads.length).toBe(47);
      const ours = count(stage.architecture, 47);
      expect(ours, exp).toBe(want);
      if (HAS_TORCH) {
        const theirs = JSON.parse(runPythonFile('bench/pytorch_reference.py', pytorchArgs(stage.architecture, 47))) as { parameters: number };
        expect(theirs.parameters, exp).toBe(ours);
      }
    }
  }, 60_000);
});
