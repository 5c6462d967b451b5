import { describe, expect, it } from 'vitest';
import { compileProgram, loadProgram } from '../../../src/compiler/index.js';
import type { RuntimeGraph, Stage } from '../../../src/graph/types.js';
import { explainChange, keyMaterial, keyOf, staticKeys, type KeyInput } from '../../../src/runtime/executor/keys.js';
import { lineageOf } from '../../../src/runtime/executor/local.js';

async function quickstart(sets: (g: RuntimeGraph) => void = () => undefined): Promise<RuntimeGraph> {
  const { graph } = compileProgram(await loadProgram('experiments/quickstart.mt'));
  const g = structuredClone(graph!);
  sets(g);
  return g;
}

const stage = <T extends Stage>(g: RuntimeGraph, id: string) => g.stages.find((s) => s.id === id) as T;

/** Keys of every stage, with every upstream digest fixed (as if each stage had produced the same outputs). */
function keysOf(g: RuntimeGraph, backend = 'cpu', external: (s: Stage) => string | null = (s) => (s.kind === 'prepare' ? `files-of-${s.datasets[0]}` : null)): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of g.stages) {
    const deps = new Map<string, KeyInput>(s.deps.map((d) => [d, { key: out.get(d)!, digest: `digest-of-${out.get(d)!.slice(0, 8)}` }]));
    out.set(s.id, keyOf(keyMaterial(s, g, deps, { backend, external: external(s) })));
  }
  return out;
}

describe('stage keys', () => {
  it('never include stage ids: renaming every stage (references included) keeps every key', async () => {
    const g = await quickstart();
    const renamed = JSON.parse(JSON.stringify(g).replace(/preprocess:quickstart_pretrain/g, 'preprocess:elsewhere').replace(/train:quickstart_pretrain/g, 'train:x')) as RuntimeGraph;
    const a = keysOf(g);
    const b = keysOf(renamed);
    expect([...b.values()]).toEqual([...a.values()]);
    expect(new Set(a.values()).size).toBe(g.stages.length);
    expect([...staticKeys(renamed, 'cpu').values()]).toEqual([...staticKeys(g, 'cpu').values()]);
  });

  it('hash the backend only for the stages that compute with tensors', async () => {
    const g = await quickstart();
    const cpu = keysOf(g, 'cpu');
    const gpu = keysOf(g, 'webgpu');
    for (const s of g.stages) {
      if (s.kind === 'prepare' || s.kind === 'preprocess') expect(gpu.get(s.id), s.id).toBe(cpu.get(s.id));
      else expect(gpu.get(s.id), s.id).not.toBe(cpu.get(s.id));
    }
  });

  it('change with what changes the results, and only with that', async () => {
    const base = keysOf(await quickstart());
    const changed = async (f: (g: RuntimeGraph) => void) => {
      const k = keysOf(await quickstart(f));
      return [...k].filter(([id, key]) => base.get(id) !== key).map(([id]) => id);
    };
    const downstreamOfFinetune = ['finetune:quickstart', 'evaluate:quickstart', 'report:quickstart'];
    // A fine-tune's seed: the fine-tune and what follows it, never the pre-training.
    expect(await changed((g) => (stage<Stage & { seed: number }>(g, 'finetune:quickstart').seed = 7))).toEqual(downstreamOfFinetune);
    // The pre-training's length: it and everything downstream.
    expect(await changed((g) => (stage<Stage & { schedule: { epochs: number } }>(g, 'train:quickstart_pretrain').schedule.epochs = 16))).toEqual(['train:quickstart_pretrain', ...downstreamOfFinetune]);
    // A class's labels: that dataset's preprocessing and what uses it.
    expect(await changed((g) => (g.datasets[4].classes[1].labels = [1]))).toEqual(['preprocess:synth_kidney@quickstart_pretrain', ...downstreamOfFinetune]);
    // The report's groups: the report only.
    expect(await changed((g) => (stage<Stage & { classSets: unknown[] }>(g, 'report:quickstart').classSets = []))).toEqual(['report:quickstart']);
    // Not results: where the data lives, the declared case counts and shares, the checkpoint interval.
    expect(await changed((g) => {
      for (const d of g.datasets) Object.assign(d, { root: `/elsewhere/${d.root}`, cases: 99 });
      for (const s of g.stages) if (s.kind === 'train' || s.kind === 'finetune') Object.assign(s.sampling.shares, { synth_liver: 0.5 }), (s.schedule.checkpointEvery = 1);
    })).toEqual([]);
    // The data's contents: everything from that dataset on.
    const files = keysOf(await quickstart(), 'cpu', (s) => (s.kind === 'prepare' ? `files-of-${s.datasets[0]}${s.datasets[0] === 'synth_kidney' ? '-edited' : ''}` : null));
    expect([...files].filter(([id, k]) => base.get(id) !== k).map(([id]) => id)).toEqual(['prepare:synth_kidney', 'preprocess:synth_kidney@quickstart_pretrain', ...downstreamOfFinetune]);
  });

  it('explain what changed, field by field', async () => {
    const g = await quickstart();
    const h = await quickstart((x) => {
      const t = stage<Stage & { schedule: { epochs: number; phases: { epochs: number }[] }; batch: number }>(x, 'train:quickstart_pretrain');
      t.schedule.epochs = 30;
      t.schedule.phases[0].epochs = 30;
      t.batch = 4;
    });
    const deps = (s: Stage) => new Map<string, KeyInput>(s.deps.map((d) => [d, { key: `k-${d}`, digest: 'd' }]));
    const before = keyMaterial(stage(g, 'train:quickstart_pretrain'), g, deps(stage(g, 'train:quickstart_pretrain')), { backend: 'cpu', numerics: 'native-fma' });
    const now = keyMaterial(stage(h, 'train:quickstart_pretrain'), h, deps(stage(h, 'train:quickstart_pretrain')), { backend: 'webgpu' });
    expect(explainChange(before, now)).toEqual(['backend: cpu -> webgpu', 'numerics: native-fma -> null', 'batch: 2 -> 4', 'schedule.epochs: 15 -> 30', 'schedule.phases[0].epochs: 15 -> 30']);
    // The native kernels' numerics class is part of a tensor stage's key (the generic build computes other bits).
    const generic = keyMaterial(stage(g, 'train:quickstart_pretrain'), g, deps(stage(g, 'train:quickstart_pretrain')), { backend: 'cpu', numerics: 'native-generic' });
    expect(keyOf(generic)).not.toBe(keyOf(before));
    expect(explainChange(before, generic)).toEqual(['numerics: native-fma -> native-generic']);
    const prep = keyMaterial(stage(g, 'preprocess:quickstart_pretrain'), g, deps(stage(g, 'preprocess:quickstart_pretrain')), { backend: 'cpu', numerics: 'native-generic' });
    expect(prep.numerics).toBeNull(); // no tensors: no numerics
    const moved = keyMaterial(stage(h, 'train:quickstart_pretrain'), h, new Map([['preprocess:quickstart_pretrain', { key: 'other', digest: 'd2' }]]), { backend: 'cpu', numerics: 'native-fma' });
    expect(explainChange(before, { ...moved, params: before.params, package: '9.9.9' }, new Map([['other', 'preprocess:quickstart_pretrain']]))).toEqual([
      'package: 0.1.0 -> 9.9.9',
      "upstream 'preprocess:quickstart_pretrain' changed",
    ]);
  });

  it('share a lineage between a training and its extension to more epochs, and only then', async () => {
    const g = await quickstart();
    const lineage = (f: (t: Stage & { schedule: { epochs: number; phases: Array<{ epochs: number; lr: unknown }> } }) => void) => {
      const h = structuredClone(g);
      const t = stage<Stage & { schedule: { epochs: number; phases: Array<{ epochs: number; lr: unknown }> } }>(h, 'finetune:quickstart');
      f(t);
      const deps = new Map<string, KeyInput>(t.deps.map((d) => [d, { key: d, digest: d }]));
      return lineageOf(keyMaterial(t, h, deps, { backend: 'cpu' }));
    };
    const base = lineage(() => undefined);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(lineage((t) => ((t.schedule.epochs = 100), (t.schedule.phases[1].epochs = 98)))).toBe(base);
    expect(lineage((t) => ((t.schedule.epochs = 61), (t.schedule.phases[0].epochs = 3)))).not.toBe(base); // not the last phase
    expect(lineage((t) => (t.schedule.phases[1].lr = { kind: 'constant', value: 0.01 }))).not.toBe(base);
  });
});
