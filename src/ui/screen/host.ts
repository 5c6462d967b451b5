/**
 * The run screen as the training's thread sees it: a worker thread (./worker.ts) holds the event
 * reducer, React, Ink and Yoga, and this thread only posts it the run's events, the terminal's size
 * and the keys. Nothing here imports React or Ink: their heap, their garbage and their frames stay
 * off the training's isolate (docs/BENCHMARKS.md, "The run screen's cost").
 */
import { Worker } from 'node:worker_threads';
import { format } from 'node:util';
import { RunEvents, type RunEvent } from '../../runtime/events.js';
import { workerEntryUrl } from '../../runtime/worker-url.js';
import { attachPlainRenderer } from '../plain.js';
import type { FromScreen, ScreenOutput, ScreenWorkerData, ToScreen } from './protocol.js';

/**
 * The screen worker's environment: this process's, without the variables by which Ink detects a CI
 * service (CI, CONTINUOUS_INTEGRATION, CI_*; the `is-in-ci` package). In CI Ink draws nothing until
 * it unmounts; the caller has already chosen the live screen (stdout is a terminal, no --no-tui),
 * so the worker draws it as it would anywhere else.
 */
export function screenEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION' && !k.startsWith('CI_')) out[k] = v;
  return out;
}

/** Frames a second at most (a stage starting or ending); progress alone redraws once a second. */
export const MAX_FPS = 4;
export const PROGRESS_INTERVAL_MS = 1000;
const SHOW_CURSOR = '\u001b[?25h';

/** The terminal's output side as the host needs it (process.stdout by default). */
export interface ScreenTerminal {
  columns?: number;
  rows?: number;
  write(text: string): unknown;
  on(event: 'resize', listener: () => void): unknown;
  off(event: 'resize', listener: () => void): unknown;
}

/** The keyboard (process.stdin by default); keys are read only from a terminal. */
export interface ScreenInput {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  on(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
  resume(): unknown;
  pause(): unknown;
  unref?(): unknown;
}

export interface ScreenOptions {
  /** `q` and Ctrl-C call it (the terminal is in raw mode, so no SIGINT arrives); without it no key is read. */
  onInterrupt?: () => void;
  /** Where frames go (default: written to fd 1 from the worker itself). */
  output?: ScreenOutput;
  terminal?: ScreenTerminal;
  /** Where the worker's stderr chunks go when its frames are posted back (default: stderr). */
  errorTerminal?: { write(text: string): unknown };
  input?: ScreenInput;
  /** Lines of the plain renderer, should the screen fail (default: stdout). */
  write?: (line: string) => void;
  /** A warning line (default: stderr). */
  warn?: (line: string) => void;
  /** Called once the screen has given way to plain lines (Ctrl-C is a signal again, and no frame says what it does). */
  onFallback?: () => void;
  /** How long the last frame may take to be written before the screen is given up on. */
  finishTimeoutMs?: number;
}

type ConsoleMethod = 'log' | 'info' | 'debug' | 'warn' | 'error';
const CONSOLE_STREAM: Record<ConsoleMethod, 'stdout' | 'stderr'> = { log: 'stdout', info: 'stdout', debug: 'stdout', warn: 'stderr', error: 'stderr' };

/** Whether a chunk from a raw-mode terminal is a stop key (`q`, Ctrl-C); an escape sequence never is. */
function stopKeys(chunk: string): number {
  if (chunk.startsWith('\u001b')) return 0;
  let n = 0;
  for (const c of chunk) if (c === 'q' || c === '\u0003') n++;
  return n;
}

/**
 * Starts the run screen in its worker, fed by `events`; returns a function that has the last frame
 * and the epilogue written (then the worker is gone). Should the worker fail (at start or later),
 * a warning says so and the plain renderer takes over: never a hang, never a stack trace.
 */
export function attachScreen(events: RunEvents, options: ScreenOptions = {}): () => Promise<void> {
  const terminal: ScreenTerminal = options.terminal ?? process.stdout;
  const input: ScreenInput = options.input ?? process.stdin;
  const write = options.write ?? ((line: string) => process.stdout.write(line.endsWith('\n') ? line : `${line}\n`));
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const output = options.output ?? { fd: 1, errFd: 2 };
  const errorTerminal = options.errorTerminal ?? process.stderr;
  let state: 'starting' | 'ready' | 'failed' | 'finished' = 'starting';
  /** The run so far without its progress ticks (bounded by stages and epochs), replayed to the plain renderer if the screen fails. */
  let history: RunEvent[] = [];
  let fallback: { events: RunEvents; detach: () => void } | null = null;
  let finished: (() => void) | null = null;
  const cleanups: (() => void)[] = [];

  const data: ScreenWorkerData = {
    output, columns: terminal.columns || 80, rows: terminal.rows || 24, maxFps: MAX_FPS, progressIntervalMs: PROGRESS_INTERVAL_MS,
  };
  let worker: Worker;
  try {
    const url = workerEntryUrl(new URL('./worker.js', import.meta.url));
    worker = new Worker(url, { workerData: data, name: 'mtc-screen', stdout: false, stderr: false, env: screenEnv(process.env) });
  } catch (err) {
    return startPlain(`could not start: ${(err as Error).message}`);
  }
  worker.unref(); // the screen never keeps the process alive; detach refs it while the last frame is written
  const send = (m: ToScreen) => {
    if (state === 'failed' || state === 'finished') return;
    try {
      worker.postMessage(m);
    } catch (err) {
      fail(`a message could not be posted to it: ${(err as Error).message}`);
    }
  };

  worker.on('message', (m: FromScreen) => {
    if (m.type === 'ready') {
      if (state === 'starting') state = 'ready';
    } else if (m.type === 'output') (m.stream === 'stdout' ? terminal : errorTerminal).write(m.text);
    else if (m.type === 'finished') {
      state = 'finished';
      finished?.();
    }
  });
  const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
  worker.on('error', (err) => fail(reason(err)));
  worker.on('messageerror', (err) => fail(reason(err)));
  worker.on('exit', (code) => {
    if (state !== 'finished') fail(`its thread exited with code ${code}`);
  });

  const unsubscribe = events.subscribe((event) => {
    if (fallback) return fallback.events.emit(event);
    if (event.type !== 'stage-progress') history.push(event);
    send({ type: 'event', event });
  });

  const onResize = () => send({ type: 'resize', columns: terminal.columns || 80, rows: terminal.rows || 24 });
  terminal.on('resize', onResize);
  cleanups.push(() => terminal.off('resize', onResize));

  const onInterrupt = options.onInterrupt;
  if (onInterrupt && input.isTTY) {
    let stops = 0;
    const onData = (chunk: string | Buffer) => {
      for (let n = stopKeys(chunk.toString()); n > 0; n--) {
        send({ type: 'stopping', count: ++stops });
        onInterrupt();
      }
    };
    input.setRawMode?.(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
    input.unref?.(); // keys are heard while the run lives; they never keep it alive
    cleanups.push(() => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
    });
  }

  // The training thread's console lines are drawn above the frame, as Ink did when it lived here.
  const saved = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  for (const method of Object.keys(CONSOLE_STREAM) as ConsoleMethod[]) {
    saved.set(method, console[method]);
    console[method] = (...args: unknown[]) => send({ type: 'console', stream: CONSOLE_STREAM[method], text: format(...args) });
  }
  cleanups.push(() => {
    for (const [method, f] of saved) console[method] = f;
  });

  // An exit while the screen is up (a second Ctrl-C) must not leave the cursor hidden.
  const onExit = () => {
    if (state === 'ready' || state === 'starting') terminal.write(`${SHOW_CURSOR}\n`);
  };
  process.on('exit', onExit);
  cleanups.push(() => process.off('exit', onExit));

  const cleanup = () => {
    for (const c of cleanups.splice(0)) c();
  };

  function fail(reason: string): void {
    if (state === 'failed' || state === 'finished') return;
    const replay = history;
    state = 'failed';
    history = [];
    cleanup();
    void worker.terminate();
    terminal.write(`${SHOW_CURSOR}\n`);
    fallback = plainFallback(`stopped: ${reason}`);
    for (const e of replay) fallback.events.emit(e);
    finished?.();
  }

  function plainFallback(reason: string): { events: RunEvents; detach: () => void } {
    warn(`mtc: the run screen ${reason}; showing plain output instead`);
    options.onFallback?.();
    const relay = new RunEvents();
    return { events: relay, detach: attachPlainRenderer(relay, { write }) };
  }

  function startPlain(reason: string): () => Promise<void> {
    const plain = plainFallback(reason);
    const off = events.subscribe((e) => plain.events.emit(e));
    return async () => {
      off();
      plain.detach();
    };
  }

  return async () => {
    if (state === 'ready' || state === 'starting') {
      const timeoutMs = options.finishTimeoutMs ?? 5000;
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve) => {
        finished = resolve;
        timer = setTimeout(() => fail(`did not write its last frame within ${timeoutMs / 1000} s`), timeoutMs);
      });
      worker.ref();
      send({ type: 'finish' });
      await done;
      clearTimeout(timer);
    }
    unsubscribe();
    cleanup();
    fallback?.detach();
    await worker.terminate();
  };
}
