import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliIO } from '../../src/cli/io.js';

export interface CapturedIO extends CliIO {
  stdout: string[];
  stderr: string[];
}

export function captureIO(cwd = process.cwd(), env: NodeJS.ProcessEnv = {}): CapturedIO {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), isTTY: false, cwd, env };
}

/** The same capture, shaped as `{ cli, out, err }` for tests that call command functions directly. */
export function ioParts(cwd = process.cwd()): { cli: CliIO; out: string[]; err: string[] } {
  const cli = captureIO(cwd);
  return { cli, out: cli.stdout, err: cli.stderr };
}

/** The one run folder under `runs/<experiment>/` (run folders are named by their run key). */
export async function runFolder(runs: string, experiment: string): Promise<string> {
  const keys = existsSync(join(runs, experiment)) ? await readdir(join(runs, experiment)) : [];
  if (keys.length !== 1) throw new Error(`expected one run folder under ${join(runs, experiment)}, found ${keys.length}`);
  return join(runs, experiment, keys[0]);
}

/** The final weights of a training stage of a run folder (through its link to the store entry). */
export function finalWeights(runDir: string, stageSlug: string): string {
  return join(runDir, 'stages', stageSlug, 'checkpoints', 'final', 'weights.bin');
}

/**
 * The quickstart's shape at toy size: two source datasets, one fine-tune target, a few iterations.
 * `pre` and `ft` are the two schedules' fields (the fine-tune's heads phase takes `headEpochs`).
 */
export function tinyExperiment(o: { pre: string; ft: string; headEpochs: number; augmentation?: boolean }): string {
  const aug = o.augmentation ? '  augmentation nnunet_augmentation' : '';
  return `${o.augmentation ? 'import "std/augmentation"' : ''}
dataset liver {
  root "quickstart/Dataset901_SynthLiver"
  synthetic quickstart seed 5
  classes { liver [1, 2]  liver_tumour [2] }
}
dataset vessel {
  root "quickstart/Dataset904_SynthVessel"
  synthetic quickstart seed 5
  classes { aorta [1]  spleen [2] }
}
dataset kidney {
  root "quickstart/Dataset905_SynthKidney"
  synthetic quickstart seed 5
  classes { kidney [1, 2]  kidney_tumour [2] tags [cancer] }
}
architecture tiny { kind unet  patch [16, 16, 16]  features [4, 8]  deep_supervision false }
schedule pre { lr poly(0.01, 0.9)  ${o.pre} }
schedule ft {
  ${o.ft}
  phase heads { epochs ${o.headEpochs}     lr linear(0, 0.01) }
  phase all   { epochs rest  lr poly(0.01, 0.9) }
}
experiment tiny_pre { datasets [liver, vessel]  architecture tiny  schedule pre  spacing [8, 8, 8]  seed 3${aug} }
experiment tiny_ft  { pretrained tiny_pre  datasets [kidney]  schedule ft  seed 3${aug} }
`;
}

const BIN = join(process.cwd(), 'bin', 'mtc.js');

export interface SpawnedMtc {
  code: number;
  events: Array<Record<string, unknown>>;
  stderr: string;
}

/**
 * `mtc ARGS` (the built bin/mtc.js) as a child process in `cwd`: its JSON event lines parsed, its
 * stderr collected; `onEvent` and `onStderr` may act on the child (signal it, answer on its stdin).
 */
export function spawnMtc(
  cwd: string,
  args: string[],
  hooks: {
    onEvent?: (e: Record<string, unknown>, child: ChildProcess) => void;
    onStderr?: (text: string, child: ChildProcess) => void;
    env?: NodeJS.ProcessEnv;
    stdin?: 'pipe' | 'ignore';
    /** Start it as the leader of a process group of its own, as a shell does a foreground job (signal the group with `process.kill(-child.pid, sig)`). */
    detached?: boolean;
  } = {},
): Promise<SpawnedMtc> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: [hooks.stdin ?? 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...hooks.env }, detached: hooks.detached });
    const events: Array<Record<string, unknown>> = [];
    let buf = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          events.push(e);
          hooks.onEvent?.(e, child);
        } catch {
          // not an event line
        }
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      stderr += c;
      hooks.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : signal === 'SIGINT' ? 130 : -1), events, stderr }));
  });
}

/**
 * Why no Slurm cluster answers here (sinfo missing or failing), or null when one does. The cluster
 * tests skip, saying this, where it is not null (scripts/slurm-local.sh start runs a one-node cluster).
 */
export function slurmClusterAbsent(): string | null {
  try {
    execFileSync('sinfo', ['-h'], { stdio: 'pipe', timeout: 10000 });
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'sinfo is not on the PATH' : `sinfo fails: ${String((e as { stderr?: unknown }).stderr ?? e).trim().split('\n')[0]}`;
  }
}
