// The native kernels' thread pool under each MTC_POOL_SPIN_US setting: threads that sleep at once
// (0), that spin first (the default, and a long spin), and an unreadable value (the default). Each
// runs in a process of its own, since the pool reads the variable once. Every setting must finish
// and give the same bits: the spin decides when a thread looks for work, never which work it does.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import { loadNativeConv3d, nativeConv3dPath } from '../../../src/runtime/kernels/native_addon.js';

const run = promisify(execFile);
const load = loadNativeConv3d();
if (!load.addon) console.warn(`thread pool tests skipped: ${load.reason}. Build with \`node scripts/build-native.mjs\`.`);

// Many back-to-back parallel calls of each kernel (forward, input and filter gradient) on two
// threads, then the SHA-256 of all outputs.
const SCRIPT = `
const a = require(process.argv[1]);
a.setThreads(2);
const filled = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed));
const p = Int32Array.from([2, 8, 8, 8, 8, 8, 8, 8, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1]);
const n = 2 * 8 * 8 * 8 * 8, nw = 27 * 8 * 8;
const x = filled(n, 1), w = filled(nw, 2), dy = filled(n, 3);
const y = new Float32Array(n), dx = new Float32Array(n), dw = new Float32Array(nw);
const h = require('node:crypto').createHash('sha256');
for (let i = 0; i < 200; i++) {
  a.forward(x, w, p, y);
  a.backpropInput(dy, w, p, dx);
  a.backpropFilter(x, dy, p, dw);
  if (i % 50 === 0) for (const t of [y, dx, dw]) h.update(Buffer.from(t.buffer));
}
process.stdout.write(h.digest('hex'));
`;

async function digest(spin: string | undefined): Promise<string> {
  const env = { ...process.env };
  delete env.MTC_POOL_SPIN_US;
  if (spin !== undefined) env.MTC_POOL_SPIN_US = spin;
  const { stdout } = await run(process.execPath, ['-e', SCRIPT, nativeConv3dPath()], { env, timeout: 60_000 });
  return stdout;
}

describe.skipIf(!load.addon)('native thread pool', () => {
  it('gives the same bits whether idle threads sleep at once, spin first or read a bad setting', async () => {
    const settings = [undefined, '0', '5000', 'often'];
    const digests = await Promise.all(settings.map(digest));
    expect(digests[0]).toMatch(/^[0-9a-f]{64}$/);
    for (const d of digests) expect(d).toBe(digests[0]);
    expect(digests[0]).not.toBe(createHash('sha256').digest('hex')); // the outputs were hashed
  }, 240_000);
});
