/**
 * A training job that reaches its real Slurm time limit, on the one-node cluster
 * (scripts/slurm-local.sh start; .ci/run starts it). Skips, saying so, where no cluster answers.
 *
 * The job is submitted with Slurm's shortest limit (`--time 1`, one minute) and `--signal-lead 20`:
 * slurmctld checks time limits every 30 s and sends USR1 at the first check at most lead + 30 s
 * before the limit, so 10 to 40 s after the job started; the job checkpoints and requeues itself,
 * and its next attempt (with a fresh minute) resumes. The training is sized from a short local
 * calibration run to last about a minute here, so its first attempt is cut short (should the machine
 * get much faster meanwhile, a second round trains twice as long). The same training runs locally,
 * uninterrupted, at the same time; the weights must be equal. About 2.5 minutes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIO, runFolder, slurmClusterAbsent, spawnMtc, type SpawnedMtc } from './helpers.js';

const sh = promisify(execFile);

const why = slurmClusterAbsent();
if (why) console.warn(`skipping the Slurm time-limit test: ${why} (start a one-node cluster with scripts/slurm-local.sh start)`);

const source = (epochs: number) => `
dataset liver { root "data/Dataset901_SynthLiver"  synthetic quickstart seed 5  classes { liver [1, 2] } }
architecture small { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }
schedule s { epochs ${epochs}  iterations 20  validation 1  checkpoint_every 5 }
experiment limited { datasets [liver]  architecture small  schedule s  spacing [8, 8, 8]  seed 3 }
`;

/** Seconds of training the run should take here: the first attempt is signalled at most 40 s into its job. */
const TARGET_SECONDS = 65;

async function weights(cwd: string, runs: string): Promise<string> {
  const io = captureIO(cwd);
  expect(await main(['status', 'limited', '--runs', runs, '--json'], io)).toBe(0);
  return (JSON.parse(io.stdout.join('\n')) as { stages: Record<string, { weights_sha256?: string }> }).stages['train:limited'].weights_sha256 ?? '';
}

const trainSeconds = (events: Array<Record<string, unknown>>) =>
  Number(events.find((e) => e.type === 'stage-end' && e.stage === 'train:limited' && e.status === 'done')?.seconds);

describe.skipIf(why !== null)('a training job that reaches its Slurm time limit', () => {
  it('is signalled by Slurm, checkpoints, requeues itself and resumes, to the weights of an uninterrupted local run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-slurm-limit-'));
    await writeFile(join(dir, 'calibrate.mt'), source(8));
    const calibration = await spawnMtc(dir, ['run', 'calibrate.mt', '--runs', 'calibrate', '--data', '.', '--json', '--backend', 'cpu']);
    expect(calibration.code, calibration.stderr).toBe(0);
    // The median epoch (the first ones pay for warming up), as the time each epoch takes here now.
    const epochSeconds = calibration.events.filter((e) => e.type === 'epoch').map((e) => Number((e.record as { seconds: number }).seconds)).sort((a, b) => a - b);
    const perEpoch = epochSeconds[Math.floor(epochSeconds.length / 2)];
    expect(perEpoch).toBeGreaterThan(0);
    const sized = Math.min(400, Math.max(40, Math.ceil(TARGET_SECONDS / perEpoch)));

    // One round, normally. Only when the cluster's training ended before Slurm's signal (this machine got
    // much faster than at the calibration) does a second round train twice as long; a job that ignored
    // the signal would then run into its limit and end TIMEOUT, which fails below.
    let round = 0;
    let epochs = sized;
    let local: SpawnedMtc;
    let cluster: SpawnedMtc;
    let job: Record<string, string>;
    let runs: { local: string; cluster: string };
    for (;;) {
      runs = { local: `local-${round}`, cluster: `cluster-${round}` };
      await writeFile(join(dir, 'exp.mt'), source(epochs));
      const args = ['run', 'exp.mt', '--data', '.', '--json', '--backend', 'cpu'];
      [local, cluster] = await Promise.all([
        spawnMtc(dir, [...args, '--runs', runs.local]),
        spawnMtc(dir, [...args, '--runs', runs.cluster, '--executor', 'slurm', '--time', '1', '--signal-lead', '20'], { stdin: 'pipe', env: { MTC_SLURM_POLL_MS: '500' } }),
      ]);
      expect(local.code, local.stderr).toBe(0);
      expect(cluster.code, cluster.stderr).toBe(0);
      const rec = JSON.parse(await readFile(join(await runFolder(join(dir, runs.cluster), 'limited'), 'slurm.json'), 'utf8')) as { stages: Record<string, { job: string; script: string }> };
      const train = rec.stages['train:limited'];
      const script = await readFile(train.script, 'utf8');
      expect(script).toContain('#SBATCH --time=1\n');
      expect(script).toContain('#SBATCH --signal=B:USR1@20\n');
      const { stdout } = await sh('scontrol', ['show', 'job', '-o', train.job]);
      job = Object.fromEntries([...stdout.matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1], m[2]]));
      expect(job.TimeLimit).toBe('00:01:00');
      expect(job.JobState).toBe('COMPLETED');
      if (Number(job.Restarts) >= 1 || round === 1) break;
      round++;
      epochs *= 2;
    }
    expect(Number(job.Restarts), `${epochs} epochs took ${trainSeconds(local.events)} s locally`).toBeGreaterThanOrEqual(1);

    const logs = cluster.events.filter((e) => e.type === 'stage-log' && e.stage === 'train:limited').map((e) => String(e.message));
    expect(logs.some((m) => /near its time limit: checkpoint written, requeued/.test(m)), logs.join('\n')).toBe(true);
    expect(logs.some((m) => /resuming train:limited from its latest checkpoint/.test(m)), logs.join('\n')).toBe(true);
    // The stage's own log: each attempt, and the batch script saying it requeued at the limit.
    const stageLog = await readFile(join(await runFolder(join(dir, runs.cluster), 'limited'), 'slurm', 'train-limited.log'), 'utf8');
    expect(stageLog).toMatch(/near the time limit: checkpoint written; requeueing/);
    expect(stageLog).toMatch(/\(attempt 2\)/);

    const reference = await weights(dir, runs.local);
    expect(reference).toMatch(/^[0-9a-f]{64}$/);
    expect(await weights(dir, runs.cluster)).toBe(reference);
  }, 560_000);
});
