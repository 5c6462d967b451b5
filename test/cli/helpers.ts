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
