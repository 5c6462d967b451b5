/**
 * `slurm.json` of a run folder: which Slurm job ran each stage, where its logs are. Written by the
 * submitter (atomically), read by `mtc status` and by the next submission (which refuses to submit
 * a second time while jobs of the run are still queued).
 *
 *   <run>/slurm.json                    the jobs of each stage
 *   <run>/slurm/jobs/NAME.sbatch        the batch scripts
 *   <run>/slurm/logs/NAME-JOB.out       the batch shells' output
 *   <run>/slurm/STAGE.events.jsonl      the stage's events (its `mtc run --stage ... --json`)
 *   <run>/slurm/STAGE.log               the stage's stderr, every attempt appended
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { stageSlug } from '../plan.js';

export const SLURM_FILE = 'slurm.json';

export interface StageJob {
  /** `123` or `123_4` (array task). */
  job: string;
  /** The job (array) id it was submitted as. */
  jobId: string;
  /** Which submission of the run (1, 2, ...) submitted it. */
  submission: number;
  script: string;
  /** The batch shell's output file. */
  output: string;
  /** The run folder the job ran the stage in (the stage's owner; shared stages run once). */
  runDir: string;
  submittedAt: string;
}

export interface SlurmRecord {
  format: 'mtc-slurm';
  version: 1;
  /** The latest submission's number. */
  submission: number;
  stages: Record<string, StageJob>;
}

export function stageFiles(runDir: string, stage: string): { events: string; log: string } {
  const slug = stageSlug(stage);
  return { events: join(runDir, 'slurm', `${slug}.events.jsonl`), log: join(runDir, 'slurm', `${slug}.log`) };
}

export async function readSlurmRecord(runDir: string): Promise<SlurmRecord | null> {
  try {
    const r = JSON.parse(await readFile(join(runDir, SLURM_FILE), 'utf8')) as SlurmRecord;
    return r.format === 'mtc-slurm' ? r : null;
  } catch {
    return null;
  }
}

export async function writeSlurmRecord(runDir: string, record: SlurmRecord): Promise<void> {
  await writeFileAtomic(join(runDir, SLURM_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** The last `lines` lines of a text file ('' when it is missing). */
export async function tailOf(path: string, lines = 15): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
