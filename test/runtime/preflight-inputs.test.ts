// Bad input is rejected before any stage runs (issue #9 section 6): a patch that does not fit the
// network, classes missing from the data, a pretrained checkpoint whose backbone does not match.
// (A NaN or infinite loss, which can only show during training: test/runtime/train/trainer-losses.test.ts.)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeGraph, TrainStage } from '../../src/graph/types.js';
import { GraphValidationError } from '../../src/graph/validate.js';
import { initBackend } from '../../src/runtime/backend.js';
import { MtDataError } from '../../src/runtime/data/errors.js';
import { RunEvents } from '../../src/runtime/events.js';
import { runGraph } from '../../src/runtime/executor/index.js';
import { saveCheckpoint } from '../../src/runtime/model/checkpoint.js';
import { UNet } from '../../src/runtime/model/unet.js';
import { inputProblems, unsupportedFeatures } from '../../src/runtime/preflight.js';
import { sampleGraph } from '../graph/fixture.js';
import { writeDataset } from './data/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mt-preflight-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('cpu');
});

/** A graph whose datasets a, b, c live under `root` (fixture datasets declare labels 0, 1, 2). */
function graphAt(root: string): RuntimeGraph {
  const g = sampleGraph();
  for (const d of g.datasets) {
    d.root = join(root, d.name);
    d.synthetic = null;
  }
  return g;
}

const trainStage = (g: RuntimeGraph): TrainStage => g.stages.find((s): s is TrainStage => s.kind === 'train')!;

/** Runs the graph; returns the error it was refused with and whether the run folder was created. */
async function refused(g: unknown, dataRoot: string): Promise<{ error: unknown; runDirCreated: boolean }> {
  const runDir = join(tmp, `run-${Math.random().toString(36).slice(2)}`);
  const events = new RunEvents();
  let started = false;
  events.subscribe((e) => {
    if (e.type === 'stage-start') started = true;
  });
  let error: unknown = null;
  try {
    await runGraph(g, { dataRoot, runs: runDir, backend: 'cpu', events });
  } catch (e) {
    error = e;
  }
  expect(started).toBe(false);
  return { error, runDirCreated: existsSync(runDir) };
}

describe('a patch that does not fit the network', () => {
  it('is refused by the graph check, with the multiple to use, before anything is written', async () => {
    const g = sampleGraph();
    trainStage(g).architecture.patch = [16, 15, 16];
    (g.stages.find((s) => s.kind === 'finetune') as unknown as TrainStage).architecture.patch = [16, 15, 16];
    const { error, runDirCreated } = await refused(g, tmp);
    expect(error).toBeInstanceOf(GraphValidationError);
    expect((error as Error).message).toContain("stage 'train:pre': patch 15 on axis 1 is not divisible by the total stride 2, so it does not fit the network; use a multiple of 2 (e.g. 14 or 16)");
    expect(runDirCreated).toBe(false);
  });

  it("and preflight names what the network's own check finds (e.g. a kernel it cannot build)", () => {
    const g = sampleGraph();
    trainStage(g).architecture.kernels = [[5, 3, 3], [3, 3, 3]];
    expect(unsupportedFeatures(g)).toEqual([
      "experiment 'pre': the patch or topology does not fit the network: architecture 'tiny': kernel [5, 3, 3] is not supported (each axis 1 or 3)",
    ]);
  });
});

describe('classes missing from the data', () => {
  it("names the class, the label and the dataset.json that lacks it, for every dataset at once; no stage runs", async () => {
    const root = join(tmp, 'classes');
    for (const d of ['a', 'b', 'c']) await writeDataset(join(root, d), 5); // labels: background 0, organ 1, lesion 2; 5 cases: one per fold
    const g = graphAt(root);
    expect(await inputProblems(g, root)).toEqual([]);
    g.datasets[0].classes = [{ name: 'liver', labels: [1, 3], tags: [] }];
    g.datasets[1].classes = [{ name: 'spleen', labels: [7], tags: [] }];
    const { error, runDirCreated } = await refused(g, root);
    expect(error).toBeInstanceOf(MtDataError);
    const message = (error as Error).message;
    expect(message).toMatch(/the run's inputs do not fit the experiment \(2 problems; nothing was run\)/);
    expect(message).toContain(`dataset 'a': class 'liver' uses label 3, which ${join(root, 'a', 'dataset.json')} does not declare (declared: 0, 1, 2)`);
    expect(message).toContain(`dataset 'b': class 'spleen' uses label 7`);
    expect(message).toContain("fix the class's labels in the .mt file");
    expect(message).not.toMatch(/\n\s+at /);
    expect(runDirCreated).toBe(false);
  });

  it('leaves folders that do not exist yet to the prepare stage', async () => {
    expect(await inputProblems(graphAt(join(tmp, 'nowhere')), tmp)).toEqual([]);
  });
});

describe('a cross-validation split the data cannot give', () => {
  it('is refused before any stage runs: too few cases for the folds, or a split file that is not there', async () => {
    const root = join(tmp, 'split');
    for (const d of ['a', 'b', 'c']) await writeDataset(join(root, d), d === 'a' ? 2 : 5);
    const g = graphAt(root);
    g.datasets[1].splitFile = 'splits_final.json';
    const { error, runDirCreated } = await refused(g, root);
    expect(error).toBeInstanceOf(MtDataError);
    const message = (error as Error).message;
    expect(message).toMatch(/\(2 problems; nothing was run\)/);
    expect(message).toContain("dataset 'a' has 2 case(s), too few for a 5-fold cross-validation");
    expect(message).toContain('give the dataset a split file (split "splits_final.json")');
    expect(message).toContain(`dataset 'b': its split file ${join(root, 'b', 'splits_final.json')} does not exist (field \`split\`)`);
    expect(runDirCreated).toBe(false);
  });
});

describe('a pretrained checkpoint', () => {
  const arch = (features: number[]) => ({ name: 'tiny', kind: 'unet' as const, patch: [16, 16, 16] as [number, number, number], features, strides: [[1, 1, 1], [2, 2, 2]] as [number, number, number][], convsPerStage: 2 });

  async function checkpoint(name: string, features: number[], heads = 3): Promise<string> {
    const model = UNet.create(arch(features), Array.from({ length: heads }, (_, i) => ({ dataset: 'x', name: `h${i}`, labels: [i + 1] })), 1);
    const dir = join(tmp, name);
    await saveCheckpoint(model, dir);
    model.dispose();
    return dir;
  }

  it('with the same backbone passes, whatever its heads (folder or model.json)', async () => {
    const dir = await checkpoint('same', [4, 8], 5);
    const g = sampleGraph();
    trainStage(g).checkpoint = join(dir, 'model.json');
    expect(await inputProblems(g, tmp)).toEqual([]);
    trainStage(g).checkpoint = dir;
    expect(await inputProblems(g, tmp)).toEqual([]);
  });

  it('with another backbone is refused, naming the tensors and both architectures; no stage runs', async () => {
    const dir = await checkpoint('wider', [4, 16]);
    const g = sampleGraph();
    trainStage(g).checkpoint = join(dir, 'model.json');
    const { error, runDirCreated } = await refused(g, tmp);
    expect(error).toBeInstanceOf(MtDataError);
    const message = (error as Error).message;
    expect(message).toContain(`experiment 'pre': the backbone in the pretrained checkpoint ${join(dir, 'model.json')} does not match the architecture of experiment 'pre'`);
    expect(message).toMatch(/enc1\.conv0\.weight is \[3, 3, 3, 4, 16\], the network needs \[3, 3, 3, 4, 8\]/);
    expect(message).toContain("trained as 'tiny' (unet, features 4/16");
    expect(message).toContain('the experiment builds \'tiny\' (unet, features 4/8');
    expect(runDirCreated).toBe(false);
  });

  it('that does not exist is refused with the path', async () => {
    const g = sampleGraph();
    trainStage(g).checkpoint = join(tmp, 'missing', 'model.json');
    const problems = await inputProblems(g, tmp);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^experiment 'pre': no checkpoint at ${join(tmp, 'missing').replace(/[/\\]/g, '.')}: cannot read model.json`));
  });
});
