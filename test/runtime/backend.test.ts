import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { initBackend, trainingUnsupportedReason } from '../../src/runtime/backend.js';

describe('initBackend', () => {
  it('cpu: initialises without tfjs printing its install banner', async () => {
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const t = tf.add(tf.tensor1d([1, 2]), 1);
    expect(Array.from(t.dataSync())).toEqual([2, 3]);
    expect(warn).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
    warn.mockRestore();
    log.mockRestore();
  });

  it('wasm: finds its binaries in node_modules and runs conv3d', async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    const y = tf.conv3d(tf.ones([1, 2, 2, 2, 1]) as tf.Tensor5D, tf.ones([1, 1, 1, 1, 1]) as tf.Tensor5D, 1, 'same');
    expect(Array.from(y.dataSync())).toEqual(new Array(8).fill(1));
    await initBackend('cpu');
  });

  it('refuses training on wasm (its conv3d gradients are wrong) but allows cpu', () => {
    expect(trainingUnsupportedReason('wasm')).toMatch(/wrong conv3d gradients.*--backend cpu/);
    expect(trainingUnsupportedReason('cpu')).toBeNull();
  });

  it('tensorflow: uses the native binding when installed, else says what to install', async () => {
    const got = await initBackend('tensorflow').catch((e: Error) => e);
    if (got instanceof Error) {
      expect(got.message).toMatch(/npm install --save-exact @tensorflow\/tfjs-node/);
    } else {
      expect(got).toBe('tensorflow');
    }
    await initBackend('cpu');
  });

  it('auto picks an available backend, preferring native TensorFlow, then cpu', async () => {
    const name = await initBackend('auto');
    expect(['tensorflow', 'cpu']).toContain(name);
    expect(tf.getBackend()).toBe(name);
  });
});
