/**
 * The runner end to end, as a user drives it: the stage cache, exact resume after kill -9 and
 * Ctrl-C (child processes of bin/mtc.js, which runs the built dist/), experiment sets, --jobs,
 * resolved.mt, mtc status and mtc ls. One tiny synthetic experiment, shared data.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIO, finalWeights, runFolder, spawnMtc, tinyExperiment, type SpawnedMtc } from './helpers.js';

const BIN = join(process.cwd(), 'bin', 'mtc.js');

const SRC = tinyExperiment({ pre: 'epochs 2  iterations 3  validation 2  checkpoint_every 1', ft: 'epochs 6  iterations 4  validation 2  checkpoint_every 1', headEpochs: 2, augmentation: true });

/** Two experiments that share nothing but the data folder's collection. */
const PAIR = `
dataset liver { root "quickstart/Dataset901_SynthLiver"  synthetic quickstart seed 5  classes { liver [1, 2] } }
dataset vessel { root "quickstart/Dataset904_SynthVessel"  synthetic quickstart seed 5  classes { aorta [1] } }
architecture tiny { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }
schedule s { epochs 2  iterations 2  validation 1 }
experiment left  { datasets [liver]   architecture tiny  schedule s  spacing [8, 8, 8] }
experiment right { datasets [vessel]  architecture tiny  schedule s  spacing [8, 8, 8] }
`;

/** Runs `mtc ARGS --json` in `cwd`; `when(event, child)` may signal the child. */
/** `group`: signal the whole process group, as a terminal's Ctrl-C does (the stage processes included). */
function mtc(cwd: string, args: string[], when: (e: Record<string, unknown>, kill: (sig: NodeJS.Signals) => void) => void = () => undefined, group = false): Promise<SpawnedMtc> {
  return spawnMtc(cwd, [...args, '--json'], {
    detached: group,
    onEvent: (e, child) => when(e, (sig) => (group ? process.kill(-child.pid!, sig) : child.kill(sig))),
  });
}

async function run(cwd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIO(cwd);
  const code = await main(['run', ...args, '--no-tui', '--backend', 'cpu'], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const endings = (out: string) => Object.fromEntries([...out.matchAll(/^\[([^\]]+)\] (done|cached|skipped|failed|interrupted)\b/gm)].map((m) => [m[1], m[2]]));
const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('the runner', () => {
  let dir = '';
  let first = { code: -1, out: '', err: '' };
  let reference = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtc-runner-'));
    await writeFile(join(dir, 'tiny.mt'), SRC);
    await writeFile(join(dir, 'pair.mt'), PAIR);
    first = await run(dir, ['tiny.mt', '--data', 'data', '--runs', 'runs']);
    reference = await runFolder(join(dir, 'runs'), 'tiny_ft');
  }, 300_000);

  it('a second run reuses every stage from the store', async () => {
    expect(first.code).toBe(0);
    const again = await run(dir, ['tiny.mt', '--data', 'data', '--runs', 'runs']);
    expect(again.code).toBe(0);
    const end = endings(again.out);
    expect(Object.keys(end).length).toBe(9);
    expect(new Set(Object.values(end))).toEqual(new Set(['cached']));
    expect(again.out).toMatch(/mtc run: done in \ds;/);
  });

  it("--explain-cache names what changed: a longer pre-training reruns it and what follows it, never the data stages, and continues from the shorter one's final checkpoint", async () => {
    const r = await run(dir, ['tiny.mt', '--data', 'data', '--runs', 'runs', '--set', 'pre.epochs=3', '--explain-cache']);
    expect(r.code).toBe(0);
    expect(endings(r.out)).toMatchObject({ 'prepare:liver': 'cached', 'preprocess:tiny_pre': 'cached', 'preprocess:kidney@tiny_pre': 'cached', 'train:tiny_pre': 'done', 'finetune:tiny_ft': 'done', 'report:tiny_ft': 'done' });
    expect(r.out).toMatch(/\[train:tiny_pre\] not cached \(key [0-9a-f]{12}\): schedule\.epochs: 2 -> 3; schedule\.phases\[0\]\.epochs: 2 -> 3/);
    expect(r.out).toMatch(/\[finetune:tiny_ft\] not cached \(key [0-9a-f]{12}\): upstream 'train:tiny_pre' changed/);
    expect(r.out).toMatch(/extending the finished train:tiny_pre \(2 epochs, key [0-9a-f]{12}\) to 3 epochs from its final checkpoint/);
    expect(r.out).toContain('[train:tiny_pre] epoch 2 ');
    expect(r.out).not.toContain('[train:tiny_pre] epoch 0 ');
  }, 120_000);

  it("changing only a fine-tune's seed reruns the fine-tune and keeps the pre-training cached", async () => {
    const r = await run(dir, ['tiny.mt', '--data', 'data', '--runs', 'runs', '--set', 'tiny_ft.seed=4']);
    expect(r.code).toBe(0);
    const end = endings(r.out);
    expect(end).toMatchObject({ 'train:tiny_pre': 'cached', 'preprocess:tiny_pre': 'cached', 'preprocess:kidney@tiny_pre': 'cached', 'finetune:tiny_ft': 'done', 'evaluate:tiny_ft': 'done', 'report:tiny_ft': 'done' });
  }, 120_000);

  it("a changed class reruns that dataset's preprocessing; a changed data file reruns from its prepare stage", async () => {
    const edited = SRC.replace('kidney [1, 2]  kidney_tumour [2]', 'kidney [1]  kidney_tumour [2]');
    await writeFile(join(dir, 'classes.mt'), edited);
    const c = await run(dir, ['classes.mt', '--data', 'data', '--runs', 'runs']);
    expect(c.code).toBe(0);
    expect(endings(c.out)).toMatchObject({ 'prepare:kidney': 'cached', 'train:tiny_pre': 'cached', 'preprocess:kidney@tiny_pre': 'done', 'finetune:tiny_ft': 'done' });
    await cp(join(dir, 'data', 'quickstart'), join(dir, 'data2', 'quickstart'), { recursive: true });
    const json = join(dir, 'data2', 'quickstart', 'Dataset905_SynthKidney', 'dataset.json');
    await writeFile(json, JSON.stringify(JSON.parse(await readFile(json, 'utf8')), null, 8));
    const d = await run(dir, ['tiny.mt', '--data', 'data2', '--runs', 'runs', '--explain-cache']);
    expect(d.code).toBe(0);
    expect(endings(d.out)).toMatchObject({ 'prepare:liver': 'cached', 'train:tiny_pre': 'cached', 'prepare:kidney': 'done', 'preprocess:kidney@tiny_pre': 'done', 'finetune:tiny_ft': 'done' });
    expect(d.out).toMatch(/\[prepare:kidney\] not cached \(key [0-9a-f]{12}\): the input files changed/);
  }, 240_000);

  it('--force reruns the stages it names; identical outputs leave what follows them cached', async () => {
    const r = await run(dir, ['tiny.mt', '--data', 'data', '--runs', 'runs', '--force', 'evaluate:*']);
    expect(r.code).toBe(0);
    expect(endings(r.out)).toMatchObject({ 'finetune:tiny_ft': 'cached', 'evaluate:tiny_ft': 'done', 'report:tiny_ft': 'cached' });
  }, 120_000);

  it('--only runs the named stages; a stage it leaves out that is not stored is skipped, and the run fails', async () => {
    const r = await run(dir, ['tiny.mt', '--data', 'data', '--runs', 'runs', '--set', 'tiny_ft.seed=11', '--only', 'evaluate:*']);
    expect(r.code).toBe(1);
    expect(endings(r.out)).toMatchObject({ 'train:tiny_pre': 'cached', 'finetune:tiny_ft': 'skipped', 'evaluate:tiny_ft': 'skipped' });
    expect(r.out).toContain('[finetune:tiny_ft] skipped: not selected by --only, and not in the store');
    expect(r.err).toContain('--only leaves out stages that are not in the store');
  }, 120_000);

  it('folds all: one training per fold, and one cross-validation over every case, each evaluated once', async () => {
    const r = await run(dir, ['tiny.mt', '-e', 'tiny_pre', '--set', 'tiny_pre.folds=all', '--data', 'data', '--runs', 'runs']);
    expect(r.code).toBe(0);
    const end = endings(r.out);
    expect(end['preprocess:tiny_pre']).toBe('cached');
    for (let k = 0; k < 5; k++) expect(end[`train:tiny_pre/fold${k}`]).toBe(k === 0 ? 'cached' : 'done'); // fold 0 is the chain's pre-training
    const runDir = (await readdir(join(dir, 'runs', 'tiny_pre'))).map((k) => join(dir, 'runs', 'tiny_pre', k));
    const metrics = JSON.parse(await readFile(join(runDir[0], 'metrics.json'), 'utf8')) as { evaluations: Array<{ classes: Array<{ dataset: string; perCase: Record<string, number | null> }>; folds: Array<{ fold: number }> }> };
    const ev = metrics.evaluations[0];
    expect(ev.folds.map((f) => f.fold)).toEqual([0, 1, 2, 3, 4]);
    const liver = ev.classes.find((c) => c.dataset === 'liver')!;
    const vessel = ev.classes.find((c) => c.dataset === 'vessel')!;
    expect(Object.keys(liver.perCase).length).toBe(12); // every liver case, once
    expect(Object.keys(vessel.perCase).length).toBe(10);
  }, 300_000);

  it('resolved.mt of a run gives the same keys: everything cached, in the same run folder', async () => {
    const r = await run(dir, [join(reference, 'resolved.mt'), '--data', 'data', '--runs', 'runs']);
    expect(r.code).toBe(0);
    expect(new Set(Object.values(endings(r.out)))).toEqual(new Set(['cached']));
    expect(r.out).toContain(`run folder ${reference}`);
  }, 120_000);

  it('mtc status and mtc ls show each stage, its state, key and metrics; --json has weights_sha256', async () => {
    const io = captureIO(dir);
    expect(await main(['status', 'tiny_ft', '--runs', 'runs', '--json'], io)).toBe(0);
    const st = JSON.parse(io.stdout.join('\n')) as { experiment: string; status: string; stages: Record<string, { state: string; key: string; weights_sha256?: string; metrics: Record<string, unknown> }> };
    expect(st.experiment).toBe('tiny_ft');
    expect(Object.keys(st.stages)).toContain('finetune:tiny_ft');
    const ft = st.stages['finetune:tiny_ft'];
    expect(ft.key).toMatch(/^[0-9a-f]{64}$/);
    expect(st.stages['train:tiny_pre'].weights_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(st.stages['evaluate:tiny_ft']).not.toHaveProperty('weights_sha256');
    const text = captureIO(dir);
    expect(await main(['status', reference, '--runs', 'runs'], text)).toBe(0);
    const t = text.stdout.join('\n');
    expect(t).toMatch(/tiny_ft {2}runs\/tiny_ft\/[0-9a-f]{12} {2}done/);
    expect(t).toMatch(/finetune:tiny_ft +(done|cached) +[0-9a-f]{12} +[\d.]+s +6 epochs, loss \d\.\d{4}, best pseudo-Dice \d\.\d{4} \(epoch \d\)/);
    expect(t).toMatch(/evaluate:tiny_ft +(done|cached) .*mean Dice \d\.\d{4} over 4 cases/);
    const ls = captureIO(dir);
    expect(await main(['ls', '--runs', 'runs'], ls)).toBe(0);
    expect(ls.stdout[0]).toMatch(/^experiment +run +state +stages +updated +Dice +folder$/);
    expect(ls.stdout.slice(1).some((l) => /^tiny_ft +[0-9a-f]{12} +done +9\/9 /.test(l))).toBe(true);
    const weights = await sha(finalWeights(reference, 'train-tiny_pre'));
    expect(st.stages['train:tiny_pre'].weights_sha256).toBe(weights);
  });

  it('kill -9 in the middle of a fine-tune; the same command resumes it from the latest checkpoint to identical final weights', async () => {
    let killed = false;
    const a = await mtc(dir, ['run', 'tiny.mt', '--data', 'data', '--runs', 'runs-kill', '--backend', 'cpu'], (e, kill) => {
      if (!killed && e.type === 'checkpoint' && e.stage === 'finetune:tiny_ft' && e.kind === 'latest' && e.epoch === 3) {
        killed = true;
        kill('SIGKILL');
      }
    });
    expect(killed).toBe(true);
    expect(a.code).toBe(137);
    const runDir = await runFolder(join(dir, 'runs-kill'), 'tiny_ft');
    const status = captureIO(dir);
    await main(['status', runDir, '--json'], status);
    expect((JSON.parse(status.stdout.join('\n')) as { status: string; stages: Record<string, { state: string }> }).stages['finetune:tiny_ft'].state).toBe('interrupted');
    const b = await run(dir, ['tiny.mt', '--data', 'data', '--runs', 'runs-kill']);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/\[finetune:tiny_ft\] resuming finetune:tiny_ft from its latest checkpoint: epoch (3|4|5) of 6/);
    expect(endings(b.out)).toMatchObject({ 'train:tiny_pre': 'cached', 'finetune:tiny_ft': 'done' });
    expect(await sha(finalWeights(runDir, 'finetune-tiny_ft'))).toBe(await sha(finalWeights(reference, 'finetune-tiny_ft')));
    const leftovers = (await readdir(join(dir, 'runs-kill'), { recursive: true })).filter((f) => /\.tmp-|\.old-/.test(String(f)));
    expect(leftovers).toEqual([]);
  }, 300_000);

  it.each([
    ['the mtc process', 'runs-int', false],
    ["the run's process group (a terminal's Ctrl-C: the stage's process gets it too)", 'runs-int-group', true],
  ])('Ctrl-C to %s finishes the iteration, writes a checkpoint, marks the stage interrupted and exits 130; the next run resumes', async (_to, runs, group) => {
    let sent = false;
    const a = await mtc(dir, ['run', 'tiny.mt', '--data', 'data', '--runs', runs, '--backend', 'cpu'], (e, kill) => {
      if (!sent && e.type === 'epoch' && e.stage === 'finetune:tiny_ft') {
        sent = true;
        kill('SIGINT');
      }
    }, group);
    expect(a.code).toBe(130);
    expect(a.stderr).toContain('stopping after the current iteration');
    expect(a.stderr).toContain('run the same command again to resume');
    const ends = a.events.filter((e) => e.type === 'stage-end').map((e) => [e.stage, e.status]);
    expect(ends).toContainEqual(['finetune:tiny_ft', 'interrupted']);
    expect(ends).toContainEqual(['evaluate:tiny_ft', 'skipped']);
    // The stage's process stopped gracefully and said so itself: a second SIGINT would have aborted it (exit 130, no checkpoint).
    const stopped = a.events.find((e) => e.type === 'stage-end' && e.stage === 'finetune:tiny_ft');
    expect(stopped?.error).toMatch(/^interrupted at epoch \d+, iteration \d+ of \d+; the latest checkpoint was written$/);
    expect(a.events.filter((e) => e.type === 'checkpoint' && e.kind === 'latest' && e.stage === 'finetune:tiny_ft').length).toBeGreaterThan(0);
    expect(a.events.at(-1)).toMatchObject({ type: 'run-end', status: 'interrupted' });
    expect(a.stderr).not.toContain('aborted');
    const runDir = await runFolder(join(dir, runs), 'tiny_ft');
    const state = JSON.parse(await readFile(join(runDir, 'state.json'), 'utf8')) as { status: string; stages: Record<string, { status: string }> };
    expect(state.status).toBe('interrupted');
    expect(state.stages['finetune:tiny_ft'].status).toBe('interrupted');
    const b = await run(dir, ['tiny.mt', '--data', 'data', '--runs', runs]);
    expect(b.code).toBe(0);
    expect(b.out).toContain('resuming finetune:tiny_ft from its latest checkpoint');
    expect(await sha(finalWeights(runDir, 'finetune-tiny_ft'))).toBe(await sha(finalWeights(reference, 'finetune-tiny_ft')));
  }, 300_000);

  it('--all --jobs 2 runs independent stages at the same time, each in its own process, with the results of --jobs 1', async () => {
    const io = captureIO(dir);
    const code = await main(['run', 'pair.mt', '--all', '--jobs', '2', '--json', '--data', 'data', '--runs', 'runs-j2', '--backend', 'cpu'], io);
    expect(io.stderr.join('\n')).toBe('');
    expect(code).toBe(0);
    const events = io.stdout.map((l) => JSON.parse(l) as { type: string; stage?: string; status?: string });
    // Two heavy stages of the two experiments overlapped: both started before either finished.
    const order = events.filter((e) => (e.type === 'stage-start' || e.type === 'stage-end') && /^(preprocess|train):/.test(e.stage ?? '')).map((e) => `${e.type === 'stage-start' ? '+' : '-'}${e.stage}`);
    const firstEnd = order.findIndex((x) => x.startsWith('-'));
    expect(order.slice(0, firstEnd).length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({ type: 'run-start', jobs: 2 });
    const one = await run(dir, ['pair.mt', '--all', '--data', 'data', '--runs', 'runs-j1']);
    expect(one.code).toBe(0);
    for (const e of ['left', 'right']) {
      const a = await runFolder(join(dir, 'runs-j2'), e);
      const b = await runFolder(join(dir, 'runs-j1'), e);
      expect(await sha(finalWeights(a, `train-${e}`))).toBe(await sha(finalWeights(b, `train-${e}`)));
      expect(existsSync(join(a, 'lock.json'))).toBe(true);
    }
  }, 400_000);
});
