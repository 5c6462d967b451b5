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
