/**
 * The terminal screen while `mtc run --executor slurm` follows its jobs: the Slurm executor's
 * follower (followJobs, with a stand-in for scontrol and events files written as the jobs would)
 * drives the Ink screen, which shows each stage's job and Slurm state in the stage tree. The same
 * on a real cluster, through a pseudo-terminal: test/cli/slurm.test.ts.
 */
import { appendFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { RunEvents, type RunEvent } from '../../src/runtime/events.js';
import { SlurmClient, type Exec } from '../../src/runtime/executor/slurm/client.js';
import { followJobs, type SubmittedStage } from '../../src/runtime/executor/slurm/executor.js';
import { RunApp } from '../../src/ui/ink/App.js';
import { screenLines } from '../../src/ui/ink/layout.js';
import { emptyRunView, reduceRunView } from '../../src/ui/state.js';
import { sampleGraph } from '../graph/fixture.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const frame = (f: string | undefined) => stripVTControlCharacters(f ?? '');

async function until(what: string, lastFrame: () => string | undefined, test: (f: string) => boolean): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const f = frame(lastFrame());
    if (test(f)) return f;
    await tick(10);
  }
  throw new Error(`the screen never showed ${what}; last frame:\n${frame(lastFrame())}`);
}

describe('the screen while following Slurm jobs', () => {
  it("shows each stage's job and Slurm state in the stage tree, then the stages' own progress and ends", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtc-slurm-screen-'));
    const graph = sampleGraph();
    const jobs: Record<string, { state: string; reason: string }> = {
      11: { state: 'RUNNING', reason: 'None' },
      12: { state: 'PENDING', reason: 'Dependency' },
      13: { state: 'PENDING', reason: 'Dependency' },
    };
    const exec: Exec = async (_cmd, args) => {
      const ids = String(args.at(-1)).split(',');
      return { code: 0, stdout: ids.map((id) => `JobId=${id} JobState=${jobs[id].state} Reason=${jobs[id].reason} Restarts=0 ExitCode=0:0`).join('\n'), stderr: '' };
    };
    const stage = (id: string, job: string): SubmittedStage => ({
      stage: id, job, runDir: dir, events: join(dir, `${job}.events.jsonl`), log: join(dir, `${job}.log`), output: join(dir, `${job}.out`), offset: 0,
    });
    const submitted = [stage('preprocess:pre', '11'), stage('train:pre', '12'), stage('finetune:ft', '13')];
    const write = (job: string, ...events: RunEvent[]) => appendFile(join(dir, `${job}.events.jsonl`), events.map((e) => `${JSON.stringify(e)}\n`).join(''));

    const events = new RunEvents();
    const { lastFrame, unmount } = render(<RunApp events={events} onInterrupt={() => undefined} intervalMs={5} columns={100} rows={40} />);
    try {
      // What the submission emits: the run, the stages in the store, each job as submitted.
      events.emit({ type: 'run-start', graph, backend: 'cpu', runDirs: { ft: dir }, store: join(dir, '.store'), jobs: 0 });
      for (const id of ['prepare:a', 'prepare:b', 'prepare:c']) events.emit({ type: 'stage-end', stage: id, status: 'cached', seconds: 0 });
      for (const s of submitted) events.emit({ type: 'stage-job', stage: s.stage, job: s.job, state: 'PENDING' });
      const followed = followJobs(submitted, { events, client: new SlurmClient(exec), pollMs: 10 });

      // The preprocessing job runs on its node before its stage says anything; the others wait for it.
      let f = await until('the jobs as Slurm has them', lastFrame, (t) => t.includes('job 11 RUNNING') && t.includes('job 13 PENDING (Dependency)'));
      expect(f).toMatch(/^· └ preprocess:pre +job 11 RUNNING$/m);
      expect(f).toMatch(/^· {3}└ train:pre +job 12 PENDING \(Dependency\)$/m);
      expect(f).toMatch(/finetune:ft +job 13 PENDING \(Dependency\)$/m);
      expect(f).toContain('q stop following (asks whether to cancel the jobs; else they keep running)');

      // Its stage starts and reports progress (from the job's events file).
      await write('11', { type: 'stage-start', stage: 'preprocess:pre', kind: 'preprocess', description: 'preprocess' }, { type: 'stage-progress', stage: 'preprocess:pre', done: 3, total: 6, unit: 'cases' });
      f = await until('the running stage', lastFrame, (t) => t.includes('50%  job 11'));
      expect(f).toMatch(/^▶ └ preprocess:pre +50% {2}job 11$/m);

      // It ends; the training's job starts; the fine-tune's dependency fails.
      await write('11', { type: 'stage-end', stage: 'preprocess:pre', status: 'done', seconds: 4 });
      jobs[11] = { state: 'COMPLETED', reason: 'None' };
      jobs[12] = { state: 'RUNNING', reason: 'None' };
      f = await until('the training job running', lastFrame, (t) => t.includes('job 12 RUNNING'));
      expect(f).toMatch(/^✔ └ preprocess:pre +done 4s$/m);
      await write('12', { type: 'stage-start', stage: 'train:pre', kind: 'train', description: 'train' }, { type: 'stage-end', stage: 'train:pre', status: 'failed', seconds: 2, error: 'the loss is NaN' });
      jobs[12] = { state: 'FAILED', reason: 'NonZeroExitCode' };
      jobs[13] = { state: 'CANCELLED', reason: 'DependencyNeverSatisfied' };
      const outcome = await followed;
      expect(outcome.status).toBe('failed');
      events.emit({ type: 'run-end', status: outcome.status as 'failed', runDirs: { ft: dir }, seconds: 9, results: [] });
      f = await until('the end', lastFrame, (t) => t.includes('failed in'));
      expect(f).toMatch(/^✘ {3}└ train:pre +failed$/m);
      expect(f).toMatch(/finetune:ft +skipped$/m);
    } finally {
      unmount();
    }
  });

  it('keeps a long job state within a narrow terminal, the stage id first', () => {
    const graph = sampleGraph();
    const view = [
      { type: 'run-start', graph, backend: 'cpu', runDirs: {}, store: '/s', jobs: 0 } as RunEvent,
      { type: 'stage-job', stage: 'finetune:ft', job: '123456_4', state: 'PENDING', reason: 'DependencyNeverSatisfied' } as RunEvent,
    ].reduce(reduceRunView, emptyRunView);
    for (const columns of [40, 60, 120]) {
      const lines = screenLines(view, { columns, rows: 30 }).map((l) => l.map((s) => s.text).join(''));
      for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(columns);
      const row = lines.find((l) => l.includes('finetune:ft'))!;
      expect(row, `${columns} columns`).toMatch(columns >= 100 ? /job 123456_4 PENDING \(DependencyNeverSatisfied\)$/ : /finetune:ft +PENDING$/);
    }
  });
});
