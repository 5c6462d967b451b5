/** Reading run folders back (`mtc status`, `mtc ls`): their state.json, with killed runs recognised. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { StageStatus } from '../events.js';
import { STATE_FILE, type RunState, type StageState } from './run-folder.js';
import { processAlive } from '../io/lock.js';

export interface RunRecord {
  dir: string;
  experiment: string;
  runKey: string;
  source: string;
  /** `running` only while its process is alive; a run whose process died (kill -9) reads `interrupted`. */
  status: RunState['status'];
  updatedAt: string;
  stages: Record<string, StageState>;
  /** The experiment's cross-validation mean Dice, once evaluated. */
  meanDice: number | null;
}


/** Reads one run folder; null when it is not one. */
export async function readRun(dir: string): Promise<RunRecord | null> {
  let st: RunState;
  try {
    st = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as RunState;
  } catch {
    return null;
  }
  if (st.format !== 'mtc-run-state') return null;
  // A process of another host cannot be checked from here: its run shows as running.
  const dead = st.status === 'running' && (st.host === undefined || st.host === hostname()) && st.pid !== process.pid && !processAlive(st.pid);
  const stages: Record<string, StageState> = {};
  for (const [id, s] of Object.entries(st.stages)) {
    stages[id] = dead && s.status === 'running' ? { ...s, status: 'interrupted' as StageStatus, error: 'its process ended without finishing it (killed?)' } : s;
  }
  const evaluate = Object.entries(stages).find(([id]) => id.startsWith('evaluate:'))?.[1];
  const md = evaluate?.summary?.meanDice;
  return {
    dir,
    experiment: st.experiment,
    runKey: st.runKey,
    source: st.source,
    status: dead ? 'interrupted' : st.status,
    updatedAt: st.updatedAt,
    stages,
    meanDice: typeof md === 'number' ? md : null,
  };
}

/** Every run folder under `runsDir` (`<experiment>/<run key>/`), most recently updated first. */
export async function listRuns(runsDir: string): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  let experiments: string[];
  try {
    experiments = (await readdir(runsDir)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
  for (const e of experiments) {
    let keys: string[];
    try {
      if (!(await stat(join(runsDir, e))).isDirectory()) continue;
      keys = await readdir(join(runsDir, e));
    } catch {
      continue;
    }
    for (const k of keys) {
      const r = await readRun(join(runsDir, e, k));
      if (r) out.push(r);
    }
  }
  return out.sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1));
}

/** A run named by its folder or by an experiment name (its most recently updated run); null when there is none. */
export async function findRun(runsDir: string, which: string, cwd: string): Promise<RunRecord | null> {
  const direct = await readRun(resolve(cwd, which));
  if (direct) return direct;
  return (await listRuns(runsDir)).find((r) => r.experiment === which) ?? null;
}
