import { isAbsolute, relative, resolve } from 'node:path';

/** Where a command writes; injected so tests can capture output without spawning processes. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stdout is an interactive terminal (enables colour and the Ink screen). */
  isTTY: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export function processIO(): CliIO {
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    isTTY: Boolean(process.stdout.isTTY),
    cwd: process.cwd(),
    env: process.env,
  };
}

/** An error whose message is meant for the user as is: printed without a stack trace. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * A path argument as the process can open it: relative paths are taken relative to the command's
 * working directory, and kept relative (so diagnostics show them as the user typed them).
 */
export function argPath(io: CliIO, file: string): string {
  if (isAbsolute(file) || io.cwd === process.cwd()) return file;
  return relative(process.cwd(), resolve(io.cwd, file));
}

