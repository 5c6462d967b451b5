/**
 * Crashes lose nothing, and two runs at once corrupt nothing (child processes of bin/mtc.js, which
 * runs the built dist/):
 * - soak: the two-stage experiment killed with kill -9 while synthesising its data, preprocessing,
 *   pre-training and fine-tuning, and restarted with the same command each time, ends with final
 *   weights identical to an uninterrupted run's (`weights_sha256` of `mtc status --json`);
 * - two `mtc run`s of the same command on the same data root and runs folder at the same time: both
 *   succeed, each stage is computed once (the other waits for it and reuses it), same weights.
 * Without the stage locks the concurrent runs fail (two processes share a work folder and a
 * synthesis); without exact resume and atomic writes the soak's weights differ or a restart fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, truncateSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIO, tinyExperiment } from '../cli/helpers.js';

const BIN = join(process.cwd(), 'bin', 'mtc.js');

const SPEC = tinyExperiment({ pre: 'epochs 4  iterations 3  validation 1  checkpoint_every 1', ft: 'epochs 4  iterations 3  validation 1  checkpoint_every 1', headEpochs: 1 });

type Event = Record<string, unknown>;

/** `mtc run tiny.mt --json` in `cwd` with its own data and runs folders; `killWhen(event)` true: kill -9 it there. */
function mtcRun(cwd: string, data: string, runs: string, killWhen: (e: Event) => boolean = () => false): Promise<{ code: number; killed: boolean; events: Event[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', 'tiny.mt', '--json', '--data', data, '--runs', runs, '--backend', 'cpu'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: Event[] = [];
    let killed = false;
    let buf = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e: Event;
        try {
          e = JSON.parse(line) as Event;
        } catch {
          continue;
        }
        events.push(e);
        if (!killed && killWhen(e)) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : -1), killed, events, stderr }));
  });
}

async function weights(cwd: string, runs: string): Promise<Record<string, string | undefined>> {
  const io = captureIO(cwd);
  expect(await main(['status', 'tiny_ft', '--runs', runs, '--json'], io)).toBe(0);
  const st = JSON.parse(io.stdout.join('\n')) as { status: string; stages: Record<string, { weights_sha256?: string }> };
  expect(st.status).toBe('done');
  return { pre: st.stages['train:tiny_pre'].weights_sha256, ft: st.stages['finetune:tiny_ft'].weights_sha256 };
}

async function leftovers(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true })).map(String).filter((f) => /\.tmp-|\.old-|\.lock$|\.stale-/.test(f));
}

const logs = (events: Event[]) => events.filter((e) => e.type === 'stage-log').map((e) => `[${String(e.stage)}] ${String(e.message)}`);

describe('kill -9 at every phase, and two runs at once', () => {
  let dir = '';
  let reference: Promise<Record<string, string | undefined>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mt-trust-soak-'));
    await writeFile(join(dir, 'tiny.mt'), SPEC);
    // The uninterrupted run, alongside the soak (its own data root and runs folder).
    reference = mtcRun(dir, 'data-ref', 'runs-ref').then(async (r) => {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return weights(dir, 'runs-ref');
    });
  });

  it('killed while synthesising, preprocessing, pre-training and fine-tuning, restarted each time: identical final weights', async () => {
    const points: Array<[string, (e: Event) => boolean]> = [
      ['synthesis', (e) => e.type === 'stage-log' && String(e.message).startsWith('synthesising')],
      ['preprocessing', (e) => e.type === 'stage-progress' && e.stage === 'preprocess:tiny_pre' && Number(e.done) >= 2],
      ['pre-training', (e) => e.type === 'checkpoint' && e.stage === 'train:tiny_pre' && e.kind === 'latest' && e.epoch === 2],
      ['fine-tuning', (e) => e.type === 'checkpoint' && e.stage === 'finetune:tiny_ft' && e.kind === 'latest' && e.epoch === 2],
    ];
    const said: string[] = [];
    for (const [name, when] of points) {
      const r = await mtcRun(dir, 'data', 'runs', when);
      expect({ name, killed: r.killed, code: r.code }).toEqual({ name, killed: true, code: 137 });
      said.push(...logs(r.events));
    }
    const last = await mtcRun(dir, 'data', 'runs');
    expect(last.stderr).toBe('');
    expect(last.code).toBe(0);
    said.push(...logs(last.events));
    expect(said.some((l) => l.startsWith('[train:tiny_pre] resuming train:tiny_pre from its latest checkpoint'))).toBe(true);
    expect(said.some((l) => l.startsWith('[finetune:tiny_ft] resuming finetune:tiny_ft from its latest checkpoint'))).toBe(true);
    const got = await weights(dir, 'runs');
    const ref = await reference;
    expect(got.pre).toMatch(/^[0-9a-f]{64}$/);
    expect(got).toEqual(ref);
    expect(await leftovers(join(dir, 'runs'))).toEqual([]);
  }, 900_000);

  it('a damaged stored result is found by the next run, which says so and recomputes it (same weights)', async () => {
    const io = captureIO(dir);
    expect(await main(['status', 'tiny_ft', '--runs', 'runs', '--json'], io)).toBe(0);
    const key = (JSON.parse(io.stdout.join('\n')) as { stages: Record<string, { key: string }> }).stages['train:tiny_pre'].key;
    const weightsFile = join(dir, 'runs', '.store', key.slice(0, 24), 'checkpoints', 'final', 'weights.bin');
    truncateSync(weightsFile, 100);
    const r = await mtcRun(dir, 'data', 'runs');
    expect(r.code).toBe(0);
    const said = logs(r.events).filter((l) => l.startsWith('[train:tiny_pre] its stored result is damaged ('));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`${weightsFile} is 100 bytes, its manifest says`);
    const status = (id: string) => r.events.find((e) => e.type === 'stage-end' && e.stage === id)?.status;
    expect(status('train:tiny_pre')).toBe('done');
    expect(['done', 'cached']).toContain(status('finetune:tiny_ft')); // reruns when the retrained entry's digest differs (its history holds timings)
    expect(await weights(dir, 'runs')).toEqual(await reference);
  }, 600_000);

  it('two mtc runs of the same command at the same time on one data root and runs folder: both succeed, nothing is computed twice', async () => {
    const [a, b] = await Promise.all([mtcRun(dir, 'data-two', 'runs-two'), mtcRun(dir, 'data-two', 'runs-two')]);
    expect([a.stderr, b.stderr]).toEqual(['', '']);
    expect([a.code, b.code]).toEqual([0, 0]);
    const ends = (r: typeof a) => r.events.filter((e) => e.type === 'stage-end' && (e.stage === 'train:tiny_pre' || e.stage === 'finetune:tiny_ft')).map((e) => e.status);
    // every training ran in exactly one of the two processes; the other reused its result
    expect([...ends(a), ...ends(b)].sort()).toEqual(['cached', 'cached', 'done', 'done']);
    const all = [...logs(a.events), ...logs(b.events)];
    expect(all.some((l) => /waiting for process \d+/.test(l))).toBe(true);
    expect(await weights(dir, 'runs-two')).toEqual(await reference);
    expect(await leftovers(join(dir, 'runs-two'))).toEqual([]);
    expect(await leftovers(join(dir, 'data-two'))).toEqual([]);
  }, 900_000);
});
