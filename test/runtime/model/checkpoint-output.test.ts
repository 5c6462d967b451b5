// The checkpoint manifest's `output` field: how the network's channels become class masks.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputChannels } from '../../../src/graph/outputs.js';
import type { HeadSpec } from '../../../src/graph/types.js';
import { initBackend } from '../../../src/runtime/backend.js';
import { checkpointDirOf, checkpointOutput, readCheckpointManifest, saveCheckpoint } from '../../../src/runtime/model/checkpoint.js';
import { UNet } from '../../../src/runtime/model/unet.js';
import { tinyArch } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'mt-ckpt-out-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const classes: HeadSpec[] = [
  { dataset: 'btcv', name: 'spleen', labels: [1] },
  { dataset: 'btcv', name: 'liver', labels: [6] },
];

describe('checkpoint output field', () => {
  it('records a softmax layout: channels background first, labels per channel, and the classes', async () => {
    const layout = { activation: 'softmax' as const, labels: [0, 1, 6] };
    const channels = outputChannels(layout, classes);
    expect(channels.map((c) => [c.name, c.labels])).toEqual([['background', [0]], ['spleen', [1]], ['liver', [6]]]);
    const m = UNet.create(tinyArch(), channels, 1);
    await saveCheckpoint(m, join(dir, 'softmax'), { layout, classes });
    m.dispose();
    const manifest = await readCheckpointManifest(join(dir, 'softmax'));
    expect(manifest.heads).toEqual(channels);
    expect(manifest.output).toEqual({ activation: 'softmax', labels: [0, 1, 6], classes });
    expect(checkpointOutput(manifest)).toEqual(manifest.output);
  });

  it('defaults to sigmoid with the heads as classes, also for manifests written before the field', async () => {
    const m = UNet.create(tinyArch(), classes, 1);
    await saveCheckpoint(m, join(dir, 'sigmoid'));
    m.dispose();
    const path = join(dir, 'sigmoid', 'model.json');
    const manifest = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    expect(manifest.output).toEqual({ activation: 'sigmoid', classes });
    delete manifest.output;
    await writeFile(path, JSON.stringify(manifest));
    expect(checkpointOutput(await readCheckpointManifest(join(dir, 'sigmoid')))).toEqual({ activation: 'sigmoid', classes });
  });

  it('a pretrained path may name the folder or its model.json', () => {
    expect(checkpointDirOf('/x/ckpt/model.json')).toBe('/x/ckpt');
    expect(checkpointDirOf('/x/ckpt')).toBe('/x/ckpt');
  });
});
