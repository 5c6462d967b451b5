/**
 * `mtc run --executor slurm` on a real one-node Slurm cluster (scripts/slurm-local.sh start; .ci/run
 * starts it). Skips, saying so, where sinfo is absent or no cluster answers. One tiny two-stage
 * experiment (preprocessing, a short training, its evaluation and report), shared data.
 */
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIO, runFolder, slurmClusterAbsent, spawnMtc, type SpawnedMtc } from './helpers.js';
import { STAGE_NODE_FLAGS } from '../../src/runtime/executor/stage-process.js';

const sh = promisify(execFile);

const why = slurmClusterAbsent();
if (why) console.warn(`skipping the Slurm executor's cluster tests: ${why} (start a one-node cluster with scripts/slurm-local.sh start)`);

const SRC = `
dataset liver { root "data/Dataset901_SynthLiver"  synthetic quickstart seed 5  classes { liver [1, 2] } }
dataset vessel { root "data/Dataset904_SynthVessel"  synthetic quickstart seed 5  classes { aorta [1] } }
architecture small { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }
schedule s { epochs 6  iterations 20  validation 1  checkpoint_every 1 }
experiment tiny { datasets [liver, vessel]  architecture small  schedule s  spacing [8, 8, 8]  seed 3 }
`;

/** `mtc ARGS` as a child process, polling Slurm often. */
function mtc(cwd: string, args: string[], hooks: Parameters<typeof spawnMtc>[2] = {}): Promise<SpawnedMtc> {
  return spawnMtc(cwd, args, { ...hooks, stdin: 'pipe', env: { MTC_SLURM_POLL_MS: '300' } });
}

async function status(cwd: string, runs: string): Promise<{ status: string; stages: Record<string, Record<string, unknown>> }> {
  const io = captureIO(cwd);
  expect(await main(['status', 'tiny', '--runs', runs, '--json'], io)).toBe(0);
  return JSON.parse(io.stdout.join('\n')) as { status: string; stages: Record<string, Record<string, unknown>> };
}

async function slurmRecord(cwd: string, runs: string): Promise<{ submission: number; stages: Record<string, { job: string; jobId: string; submission: number }> }> {
  return JSON.parse(await readFile(join(await runFolder(join(cwd, runs), 'tiny'), 'slurm.json'), 'utf8')) as { submission: number; stages: Record<string, { job: string; jobId: string; submission: number }> };
}

async function jobState(id: string): Promise<Record<string, string>> {
  const { stdout } = await sh('scontrol', ['show', 'job', '-o', id]);
  return Object.fromEntries([...stdout.matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1], m[2]]));
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, seconds = 120): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > seconds * 1000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const SLURM = ['--executor', 'slurm', '--backend', 'cpu', '--no-tui'];

/**
 * `mtc ARGS` on a pseudo-terminal of 120x40 (util-linux `script`), so it draws its screen; `onText`
 * sees the output so far without escape codes, and may type into the terminal.
 */
function onScreen(cwd: string, args: string[], onText: (text: string, write: (keys: string) => void) => void): Promise<{ code: number; text: string }> {
  const command = `stty cols 120 rows 40; exec ${[process.execPath, join(process.cwd(), 'bin', 'mtc.js'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MTC_SLURM_POLL_MS: '300', TERM: 'xterm-256color' } });
    let raw = '';
    const write = (keys: string) => child.stdin.write(keys);
    const take = (c: Buffer) => {
      raw += c.toString('utf8');
      onText(stripVTControlCharacters(raw), write);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code: code ?? -1, text: stripVTControlCharacters(raw) });
    });
  });
}

describe.skipIf(why !== null)('mtc run --executor slurm on a one-node cluster', () => {
  let dir = '';
  let reference = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtc-slurm-'));
    await writeFile(join(dir, 'exp.mt'), SRC);
    const io = captureIO(dir);
    expect(await main(['run', 'exp.mt', '--runs', 'local', '--data', '.', '--no-tui', '--backend', 'cpu'], io), io.stderr.join('\n')).toBe(0);
    reference = (await status(dir, 'local')).stages['train:tiny'].weights_sha256 as string;
    expect(reference).toMatch(/^[0-9a-f]{64}$/);
  }, 300_000);

  it('runs every stage as a job and ends with the same weights as a local run; a second submission submits nothing', async () => {
    const first = await mtc(dir, ['run', 'exp.mt', '--runs', 'cluster', '--data', '.', ...SLURM]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/submitted 4 stage\(s\) as 4 Slurm job\(s\)/);
    const st = await status(dir, 'cluster');
    expect(st.status).toBe('done');
    expect(st.stages['train:tiny'].weights_sha256).toBe(reference);
    for (const id of ['preprocess:tiny', 'train:tiny', 'evaluate:tiny', 'report:tiny']) {
      expect(st.stages[id].slurm_job_id, id).toMatch(/^\d+(_\d+)?$/);
      expect(st.stages[id].slurm_state).toBe('COMPLETED');
    }
    // The train job waited for the preprocessing job.
    const rec = await slurmRecord(dir, 'cluster');
    expect((await jobState(rec.stages['train:tiny'].job)).Dependency).toMatch(/^(\(null\)|afterok:\d+)/);

    const again = await mtc(dir, ['run', 'exp.mt', '--runs', 'cluster', '--data', '.', ...SLURM]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/nothing to submit: every stage is in the store/);
    expect((await slurmRecord(dir, 'cluster')).submission).toBe(rec.submission);
  }, 300_000);

  it('requeues a job that nears its time limit (USR1), which resumes from its checkpoint to the same weights', async () => {
    let signalled = false;
    const child = await mtc(dir, ['run', 'exp.mt', '--runs', 'requeue', '--data', '.', '--json', ...SLURM], {
      onEvent: (e) => {
        if (!signalled && e.type === 'checkpoint' && e.stage === 'train:tiny') {
          signalled = true;
          // What slurmctld does --signal's seconds before the limit: USR1 to the batch shell.
          void slurmRecord(dir, 'requeue').then((r) => sh('scancel', ['--signal=USR1', '--batch', r.stages['train:tiny'].job]));
        }
      },
    });
    expect(child.code, child.stderr).toBe(0);
    expect(signalled).toBe(true);
    const logs = child.events.filter((e) => e.type === 'stage-log' && e.stage === 'train:tiny').map((e) => String(e.message));
    expect(logs.some((m) => /near its time limit: checkpoint written, requeued/.test(m)), logs.join('\n')).toBe(true);
    expect(logs.some((m) => /resuming train:tiny from its latest checkpoint/.test(m)), logs.join('\n')).toBe(true);
    const rec = await slurmRecord(dir, 'requeue');
    expect(Number((await jobState(rec.stages['train:tiny'].job)).Restarts)).toBe(1);
    const st = await status(dir, 'requeue');
    expect(st.stages['train:tiny'].weights_sha256).toBe(reference);
  }, 300_000);

  it('fails the dependents of a failed stage (DependencyNeverSatisfied); --detach returns, mtc status says why with the log; a new submission resubmits only what is not done', async () => {
    await cp(join(dir, 'data'), join(dir, 'data2'), { recursive: true });
    await writeFile(join(dir, 'exp2.mt'), SRC.replaceAll('"data/', '"data2/'));
    const sub = await mtc(dir, ['run', 'exp2.mt', '--runs', 'failing', '--data', '.', '--detach', '--sbatch-arg=--hold', ...SLURM]);
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stderr).toMatch(/submitted 4 stage\(s\) as 4 Slurm job\(s\)/);
    // The data changes between submission and run: the preprocessing job refuses it.
    const image = join(dir, 'data2', 'Dataset901_SynthLiver', 'imagesTr');
    const { readdir } = await import('node:fs/promises');
    const first = (await readdir(image)).sort()[0];
    await writeFile(join(image, first), 'not a NIfTI file any more');
    const rec = await slurmRecord(dir, 'failing');
    await sh('scontrol', ['release', ...Object.values(rec.stages).map((s) => s.jobId).filter((v, i, a) => a.indexOf(v) === i)]);
    const st = await until('the run to fail', async () => {
      const s = await status(dir, 'failing');
      return s.status === 'failed' ? s : null;
    });
    expect(st.stages['preprocess:tiny'].state).toBe('failed');
    expect(String(st.stages['preprocess:tiny'].error)).toMatch(/Slurm job \d+ ended FAILED/);
    expect(String(st.stages['preprocess:tiny'].log_tail)).toMatch(/prepare:liver/);
    for (const id of ['train:tiny', 'evaluate:tiny', 'report:tiny']) {
      expect(st.stages[id].state, id).toBe('skipped');
      expect(st.stages[id].slurm_reason, id).toBe('DependencyNeverSatisfied');
    }
    const io = captureIO(dir);
    await main(['status', 'tiny', '--runs', 'failing'], io);
    expect(io.stdout.join('\n')).toMatch(/preprocess:tiny failed: Slurm job \d+ ended FAILED[^\n]*\n {2}the end of its log:/);

    // Resubmitting (held: nothing runs) submits the stages that are not done, and not the prepared datasets.
    const again = await mtc(dir, ['run', 'exp2.mt', '--runs', 'failing', '--data', '.', '--detach', '--sbatch-arg=--hold', ...SLURM]);
    expect(again.code, again.stderr).toBe(0);
    const rec2 = await slurmRecord(dir, 'failing');
    const resubmitted = Object.entries(rec2.stages).filter(([, s]) => s.submission === 2).map(([id]) => id).sort();
    expect(resubmitted).toEqual(['evaluate:tiny', 'preprocess:tiny', 'report:tiny', 'train:tiny']);
    await sh('scancel', [...new Set(Object.values(rec2.stages).filter((s) => s.submission === 2).map((s) => s.jobId))]);
  }, 300_000);

  it('asks on Ctrl-C whether to cancel the jobs: yes cancels them (scancel), no leaves them queued', async () => {
    for (const answer of ['y', 'n']) {
      const runs = `ctrl-c-${answer}`;
      let stage = 0;
      const child = await mtc(dir, ['run', 'exp.mt', '--runs', runs, '--data', '.', '--sbatch-arg=--hold', ...SLURM], {
        onStderr: (text, c) => {
          if (stage === 0 && /following them/.test(text)) {
            stage = 1;
            c.kill('SIGINT');
          } else if (stage === 1 && /cancel the 4 job\(s\)/.test(text)) {
            stage = 2;
            c.stdin?.write(`${answer}\n`);
          }
        },
      });
      const rec = await slurmRecord(dir, runs);
      const ids = [...new Set(Object.values(rec.stages).map((s) => s.jobId))];
      const states = await Promise.all(ids.map(async (id) => (await jobState(id)).JobState));
      if (answer === 'y') {
        expect(child.code, child.stderr).toBe(130);
        expect(child.stderr).toMatch(/cancelled 4 job\(s\)/);
        expect(states.every((s) => s === 'CANCELLED'), states.join(' ')).toBe(true);
        expect((await status(dir, runs)).stages['train:tiny'].state).toBe('interrupted');
      } else {
        expect(child.code, child.stderr).toBe(0);
        expect(child.stderr).toMatch(/the jobs keep running/);
        expect(states.every((s) => s === 'PENDING'), states.join(' ')).toBe(true);
        await sh('scancel', ids);
      }
    }
  }, 300_000);

  it('--force resubmits a stage that is in the store (its job passes --force-stage), what follows it stays cached; the screen shows the job', async () => {
    // Through a pseudo-terminal: the Ink screen, with the job held until the test has seen it queued.
    let released = false;
    const run = await onScreen(dir, ['run', 'exp.mt', '--runs', 'cluster', '--data', '.', '--executor', 'slurm', '--backend', 'cpu', '--force', 'evaluate:*', '--sbatch-arg=--hold'], (text) => {
      const held = /evaluate:tiny +job (\d+) PENDING \(JobHeldUser\)/.exec(text);
      if (held && !released) {
        released = true;
        void sh('scontrol', ['release', held[1]]);
      }
    });
    expect(run.code, run.text).toBe(0);
    expect(released, run.text).toBe(true);
    expect(run.text).toMatch(/≡ +└ train:tiny +cached/);
    expect(run.text).toMatch(/q stop following \(asks whether to cancel the jobs; else they keep running\)/);
    expect(run.text).toMatch(/✔ +└ evaluate:tiny +done/);
    expect(run.text).toMatch(/done in /);
    expect(run.text).toMatch(/Per-class Dice on the validation cases \(evaluate:tiny\)/);
    const rec = await slurmRecord(dir, 'cluster');
    const forced = rec.stages['evaluate:tiny'];
    expect(forced.submission).toBe(rec.submission);
    for (const id of ['preprocess:tiny', 'train:tiny', 'report:tiny']) expect(rec.stages[id].submission, id).toBeLessThan(rec.submission);
    const script = await readFile((forced as unknown as { script: string }).script, 'utf8');
    expect(script).toContain('FORCE=(--force-stage)');
    for (const flag of STAGE_NODE_FLAGS) expect(script).toContain(flag); // the stage's node runs with a training process's V8 flags
    const st = await status(dir, 'cluster');
    expect(st.stages['evaluate:tiny'].state).toBe('done');
    expect(st.stages['report:tiny'].state).toBe('cached');
    expect(st.stages['train:tiny'].weights_sha256).toBe(reference);
  }, 120_000);

  it('--only submits the stages it selects and reports what it leaves out; a selected stage whose input is not stored is not submitted', async () => {
    // Another experiment on the same data: its preprocessing has the same key, so it is in the store; its training is not.
    await writeFile(join(dir, 'other.mt'), SRC.replace('experiment tiny {', 'experiment other {').replace('seed 3 }', 'seed 4 }'));
    const args = ['run', 'other.mt', '--runs', 'cluster', '--data', '.', ...SLURM];
    const none = await mtc(dir, [...args, '--only', 'evaluate:*']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/nothing submitted; stages not run: train:other, evaluate:other, report:other \(--only leaves out stages that are not in the store\)/);
    expect(existsSync(join(await runFolder(join(dir, 'cluster'), 'other'), 'slurm.json'))).toBe(false);

    const some = await mtc(dir, [...args, '--only', 'train:*', '--detach', '--sbatch-arg=--hold']);
    expect(some.code, some.stderr).toBe(1);
    expect(some.stderr).toMatch(/submitted 1 stage\(s\) as 1 Slurm job\(s\)/);
    expect(some.stderr).toMatch(/not submitted: stages not run: evaluate:other, report:other/);
    const rec = JSON.parse(await readFile(join(await runFolder(join(dir, 'cluster'), 'other'), 'slurm.json'), 'utf8')) as { stages: Record<string, { jobId: string }> };
    expect(Object.keys(rec.stages)).toEqual(['train:other']);
    await sh('scancel', [rec.stages['train:other'].jobId]);
    const io = captureIO(dir);
    expect(await main(['status', 'other', '--runs', 'cluster', '--json'], io)).toBe(0);
    const st = JSON.parse(io.stdout.join('\n')) as { stages: Record<string, { state: string; error?: string }> };
    expect(st.stages['preprocess:other'].state).toBe('cached');
    expect(st.stages['evaluate:other']).toMatchObject({ state: 'skipped', error: 'not selected by --only, and not in the store' });

    const jobs = await mtc(dir, [...args, '--jobs', '2']);
    expect(jobs.code).toBe(1);
    expect(jobs.stderr).toMatch(/--jobs 2 is for the local executor: with --executor slurm every stage is a job, and Slurm decides how many run at the same time/);
  }, 120_000);

  it('on the screen, Ctrl-C asks whether to cancel the jobs, and yes cancels them', async () => {
    let stage = 0;
    const run = await onScreen(dir, ['run', 'exp.mt', '--runs', 'screen-ctrl-c', '--data', '.', '--executor', 'slurm', '--backend', 'cpu', '--sbatch-arg=--hold'], (text, write) => {
      if (stage === 0 && /report:tiny +job \d+ PENDING \(JobHeldUser\)/.test(text)) {
        stage = 1;
        write('\u0003'); // Ctrl-C as the terminal sends it (the screen holds it in raw mode)
      } else if (stage === 1 && /cancel the 4 job\(s\)/.test(text)) {
        stage = 2;
        write('y\r');
      }
    });
    expect(run.code, run.text).toBe(130);
    expect(run.text).toMatch(/train:tiny +job \d+ PENDING \(JobHeldUser\)/);
    expect(run.text).toMatch(/cancelled 4 job\(s\)/);
    const rec = await slurmRecord(dir, 'screen-ctrl-c');
    const states = await Promise.all([...new Set(Object.values(rec.stages).map((s) => s.jobId))].map(async (id) => (await jobState(id)).JobState));
    expect(states.every((s) => s === 'CANCELLED'), states.join(' ')).toBe(true);
  }, 120_000);

  it('refuses an unknown partition and an unwritable runs folder before submitting anything', async () => {
    const bad = await mtc(dir, ['run', 'exp.mt', '--runs', 'never', '--data', '.', '--partition', 'a100', ...SLURM]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/partition 'a100' does not exist \(sinfo lists: debug\)/);
    expect(existsSync(join(dir, 'never', 'tiny'))).toBe(false);
    await writeFile(join(dir, 'plain-file'), 'x');
    const unwritable = await mtc(dir, ['run', 'exp.mt', '--runs', 'plain-file/runs', '--data', '.', ...SLURM]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(/the runs folder .* is not writable/);
  }, 120_000);
});
