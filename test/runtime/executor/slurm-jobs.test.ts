/**
 * The Slurm executor's pure parts, without a cluster: which jobs and arrays a plan becomes, the
 * batch script, scontrol's output, the preflight's messages (with stand-ins for the tools).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileProgram, loadProgram } from '../../../src/compiler/index.js';
import type { RuntimeGraph } from '../../../src/graph/types.js';
import { expandRange, parseFields, SlurmClient, type Exec } from '../../../src/runtime/executor/slurm/client.js';
import { slurmPreflight } from '../../../src/runtime/executor/slurm/executor.js';
import { planJobs } from '../../../src/runtime/executor/slurm/jobs.js';
import { batchScript, signalLeadProblem, timeLimitSeconds } from '../../../src/runtime/executor/slurm/script.js';

async function graphOf(file: string, options: { all?: boolean; experiments?: string[] } = {}): Promise<RuntimeGraph> {
  const { graph, diagnostics } = compileProgram(await loadProgram(file), options);
  if (!graph) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return graph;
}

describe('planJobs', () => {
  it('sends the folds of a cross-validation as one array, waiting for the preprocessing; the evaluation waits for the array', async () => {
    const g = await graphOf('experiments/amos_finetune.mt', { all: true });
    const submit = g.stages.filter((s) => s.kind !== 'prepare').map((s) => s.id);
    const jobs = planJobs(g, submit);
    const finetunes = jobs.find((j) => j.stages.every((id) => id.startsWith('finetune:')))!;
    expect(finetunes.stages.length).toBe(5);
    expect(finetunes.stages.map((id) => id.split('/').pop())).toEqual(['fold0', 'fold1', 'fold2', 'fold3', 'fold4']);
    const evaluate = jobs.find((j) => j.stages.some((id) => id.startsWith('evaluate:')))!;
    expect(evaluate.after.map((a) => jobs[a.job])).toContain(finetunes);
    // Every job waits only for jobs before it (the list is in submission order).
    jobs.forEach((j, i) => j.after.forEach((a) => expect(a.job).toBeLessThan(i)));
    // Every stage is in exactly one job.
    expect(jobs.flatMap((j) => j.stages).sort()).toEqual([...submit].sort());
  });

  it('sends the members of a family as arrays whose tasks wait task by task (aftercorr) for their own inputs', async () => {
    const g = await graphOf('experiments/baselines.mt', { experiments: ['baselines_*_multitalent_unet_fold0'] });
    const submit = g.stages.filter((s) => s.kind !== 'prepare').map((s) => s.id);
    const jobs = planJobs(g, submit);
    const trains = jobs.find((j) => j.stages.every((id) => id.startsWith('train:')))!;
    expect(trains.stages.length).toBe(13);
    const pre = jobs.find((j) => j.stages.every((id) => id.startsWith('preprocess:')))!;
    expect(pre.stages.length).toBe(13);
    expect(trains.after).toEqual([{ job: jobs.indexOf(pre), kind: 'aftercorr' }]);
    expect(jobs.length).toBe(4); // preprocess, train, evaluate, report: four arrays of 13
  });

  it('keeps stages apart that differ in shape or wait for other jobs', async () => {
    const g = await graphOf('experiments/quickstart.mt');
    const jobs = planJobs(g, g.stages.map((s) => s.id));
    const train = jobs.find((j) => j.stages.includes('train:quickstart_pretrain'))!;
    expect(train.stages).toEqual(['train:quickstart_pretrain']);
    const ft = jobs.find((j) => j.stages.some((id) => id.startsWith('finetune:')))!;
    expect(ft.after.map((a) => jobs[a.job].stages).flat()).toContain('train:quickstart_pretrain');
  });
});

describe('the batch script', () => {
  const script = batchScript({
    name: 'mtc-train-x',
    tasks: [{ stage: 'train:x/fold0', runDir: '/shared/runs/x/abc' }, { stage: "train:x/fold1", runDir: "/shared/run's/x/abc" }],
    logDir: '/shared/runs/x/abc/slurm/logs',
    mtc: ['/usr/bin/node', '/opt/mtc/bin/mtc.js'],
    backend: 'cpu',
    sbatch: { partition: 'gpu', time: '24:00:00', gres: 'gpu:1', cpusPerTask: 8, mem: '32G', account: 'lab', sbatchArgs: ['--qos=long'] },
  });
  it('asks for the resources, an array, requeueing and USR1 120 s before the limit', () => {
    for (const o of ['--partition=gpu', '--time=24:00:00', '--gres=gpu:1', '--cpus-per-task=8', '--mem=32G', '--account=lab', '--qos=long', '--array=0-1', '--requeue', '--signal=B:USR1@120', '--kill-on-invalid-dep=yes', '--output=/shared/runs/x/abc/slurm/logs/%x-%A_%a.out']) {
      expect(script).toContain(`#SBATCH ${o}\n`);
    }
  });
  it('runs the stage of its array task with mtc run --stage, quoting paths for bash', () => {
    expect(script).toContain(`/usr/bin/node /opt/mtc/bin/mtc.js run --stage "$STAGE" --run "$RUN" --json --backend cpu`);
    expect(script).toContain(`'/shared/run'\\''s/x/abc'`);
    expect(script).toContain('scontrol requeue "$JOB"');
    expect(script).not.toContain('--force-stage');
  });
  it('sets the USR1 trap before the stage starts, and passes a signal that came before the stage on to it', () => {
    const trap = script.indexOf("trap 'near_limit=1;");
    const start = script.indexOf('run --stage "$STAGE"');
    expect(trap).toBeGreaterThan(0);
    expect(trap).toBeLessThan(start);
    expect(script.slice(start)).toMatch(/child=\$!\n\[ "\$near_limit" = 1 \] && kill -INT "\$child"/);
  });
  it('takes the signal lead (--signal-lead), and passes --force-stage to the forced tasks of an array only', () => {
    const forced = batchScript({
      name: 'mtc-evaluate-x',
      tasks: [{ stage: 'evaluate:a', runDir: '/r/a', force: true }, { stage: 'evaluate:b', runDir: '/r/b' }],
      logDir: '/r/logs',
      mtc: ['/usr/bin/node', '/opt/mtc/bin/mtc.js'],
      backend: 'cpu',
      sbatch: { time: '1', signalSeconds: 20 },
    });
    expect(forced).toContain('#SBATCH --signal=B:USR1@20\n');
    expect(forced).toContain('FORCED=(\n  1\n  0\n)');
    expect(forced).toContain('if [ "${FORCED[$i]}" = 1 ]; then FORCE=(--force-stage); else FORCE=(); fi');
    expect(forced).toContain('--json --backend cpu ${FORCE[@]+"${FORCE[@]}"} >>');
    // What bash makes of it for each task: the forced one gets --force-stage, the other nothing (set -u holds).
    const words = (task: number) =>
      execFileSync('bash', ['-c', `set -u; ${forced.match(/^FORCED=\(\n[\s\S]*?; fi$/m)![0]}\nprintf '<%s>' x \${FORCE[@]+"\${FORCE[@]}"}`], { env: { i: String(task), PATH: process.env.PATH } }).toString();
    expect(words(0)).toBe('<x><--force-stage>');
    expect(words(1)).toBe('<x>');
  });
});

describe('time limits and the signal lead', () => {
  it('reads the time limits sbatch takes', () => {
    expect(timeLimitSeconds('1')).toBe(60);
    expect(timeLimitSeconds('90:30')).toBe(5430);
    expect(timeLimitSeconds('24:00:00')).toBe(86400);
    expect(timeLimitSeconds('2-12')).toBe(2 * 86400 + 12 * 3600);
    expect(timeLimitSeconds('1-00:30')).toBe(86400 + 1800);
    expect(timeLimitSeconds('1-00:30:15')).toBe(86400 + 1815);
    expect(timeLimitSeconds('UNLIMITED')).toBeNull();
    expect(timeLimitSeconds('soon')).toBeUndefined();
  });
  it('refuses a lead that is not shorter than the time limit, or out of sbatch\'s range', () => {
    expect(signalLeadProblem({ time: '1', signalSeconds: 20 })).toBeNull();
    expect(signalLeadProblem({ time: '24:00:00' })).toBeNull();
    expect(signalLeadProblem({})).toBeNull();
    expect(signalLeadProblem({ time: '1' })).toMatch(/--signal-lead 120 s is not shorter than the time limit --time 1 \(60 s\)/);
    expect(signalLeadProblem({ signalSeconds: 70000 })).toMatch(/from 1 to 65535/);
  });
});

describe('scontrol output', () => {
  it('reads fields, array tasks and ranges', () => {
    const f = parseFields('JobId=12 ArrayJobId=10 ArrayTaskId=2 JobName=mtc-x JobState=CANCELLED Reason=DependencyNeverSatisfied Dependency=afterok:9(failed) Restarts=1 ExitCode=0:0');
    expect(f).toMatchObject({ JobId: '12', ArrayJobId: '10', ArrayTaskId: '2', JobState: 'CANCELLED', Reason: 'DependencyNeverSatisfied', Restarts: '1' });
    expect(expandRange('0-3,5,7-8')).toEqual([0, 1, 2, 3, 5, 7, 8]);
  });
  it('expands a pending array not yet split into tasks', async () => {
    const exec: Exec = async () => ({ code: 0, stdout: 'JobId=20 ArrayJobId=20 ArrayTaskId=0-2 JobState=PENDING Reason=Dependency Restarts=0\n', stderr: '' });
    const jobs = await new SlurmClient(exec).jobs(['20_0', '20_2']);
    expect(jobs.get('20_2')).toMatchObject({ state: 'PENDING', reason: 'Dependency' });
  });
});

describe('the preflight', () => {
  it('says that sbatch is missing, and that the runs folder is not writable, before anything is submitted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-slurm-pre-'));
    await writeFile(join(dir, 'file'), 'x');
    const err = await slurmPreflight(join(dir, 'file', 'runs'), {}, new SlurmClient(), { PATH: join(dir, 'nothing') }).catch((e: Error) => e);
    expect(String(err)).toMatch(/sbatch, squeue, scontrol, scancel, sinfo are not on the PATH/);
    expect(String(err)).toMatch(/the runs folder .*file\/runs is not writable \(ENOTDIR\)/);
  });
  it('names a partition sinfo does not list, with the ones it does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-slurm-pre-'));
    for (const t of ['sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo']) await writeFile(join(dir, t), '#!/bin/sh\n', { mode: 0o755 });
    const exec: Exec = async () => ({ code: 0, stdout: 'debug*\ngpu\n', stderr: '' });
    const err = await slurmPreflight(join(dir, 'runs'), { partition: 'a100' }, new SlurmClient(exec), { PATH: dir }).catch((e: Error) => e);
    expect(String(err)).toMatch(/partition 'a100' does not exist \(sinfo lists: debug, gpu\)/);
    await expect(slurmPreflight(join(dir, 'runs'), { partition: 'gpu' }, new SlurmClient(exec), { PATH: dir })).resolves.toBeUndefined();
    const lead = await slurmPreflight(join(dir, 'runs'), { time: '00:02:00', signalSeconds: 300 }, new SlurmClient(exec), { PATH: dir }).catch((e: Error) => e);
    expect(String(lead)).toMatch(/--signal-lead 300 s is not shorter than the time limit --time 00:02:00 \(120 s\)/);
  });
});
