import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunEvents, type RunEvent } from '../../src/runtime/events.js';
import { workerEntryUrl } from '../../src/runtime/worker-url.js';
import { attachScreen, screenEnv, type ScreenInput, type ScreenTerminal } from '../../src/ui/screen/host.js';
import { sampleGraph } from '../graph/fixture.js';
import { classNames, trainingEvents } from './scenarios.js';

/** A terminal of a given size whose writes (the posted frames, the host's own escapes) are kept. */
class FakeTerminal extends EventEmitter implements ScreenTerminal {
  written = '';
  constructor(public columns: number, public rows: number) {
    super();
  }
  write(text: string): boolean {
    this.written += text;
    return true;
  }
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

/** A keyboard in raw mode (what the host reads `q` and Ctrl-C from). */
function fakeKeyboard(): PassThrough & ScreenInput & { raw: boolean[] } {
  const raw: boolean[] = [];
  return Object.assign(new PassThrough(), { isTTY: true, raw, setRawMode: (r: boolean) => raw.push(r) });
}

async function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const plainText = (s: string) => stripVTControlCharacters(s);
const runEnd: RunEvent = { type: 'run-end', status: 'done', runDirs: {}, seconds: 12, results: [] };

describe('the screen worker\'s environment', () => {
  it('leaves out the variables by which Ink detects CI (it would draw nothing until the end), and keeps the rest', () => {
    const env = { CI: 'true', CONTINUOUS_INTEGRATION: '1', CI_JOB_ID: '7', PATH: '/bin', MTC_DATA: '/d', CIRCLE: 'x' };
    expect(screenEnv(env)).toEqual({ PATH: '/bin', MTC_DATA: '/d', CIRCLE: 'x' });
  });
});

describe('the run screen in its worker thread', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mtc-screen-worker-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('draws frames from posted events to a file descriptor, relays q and resizes, and writes the last frame before detach returns', async () => {
    const file = join(dir, 'terminal.txt');
    const fd = openSync(file, 'w');
    const terminal = new FakeTerminal(80, 30);
    const keys = fakeKeyboard();
    let interrupts = 0;
    const events = new RunEvents();
    const detach = attachScreen(events, { output: { fd }, terminal, input: keys, onInterrupt: () => interrupts++, warn: (l) => expect.fail(l) });
    try {
      for (const e of trainingEvents(sampleGraph(), 'train:pre', classNames(3), 2000)) events.emit(e);
      const screen = () => plainText(readFileSync(file, 'utf8'));
      await waitFor('a frame with the progress', () => screen().includes('2000/250000 it'));
      expect(screen()).toContain('▶   └ train:pre');
      expect(keys.raw).toEqual([true]);
      keys.write('x');
      keys.write('q');
      await waitFor('the stop request', () => interrupts === 1);
      await waitFor('the stopping line', () => screen().includes('stopping after the current iteration, writing a checkpoint'));
      terminal.resize(60, 30);
      const before = screen().length;
      await waitFor('a frame at 60 columns', () => screen().slice(before).includes('stopping after'));
      for (const l of screen().slice(before).split('\n')) expect(l.replace(/\r$/, '').length).toBeLessThanOrEqual(60);
      events.emit(runEnd);
      await detach();
      expect(screen()).toContain('done in 12s');
      expect(interrupts).toBe(1);
      expect(keys.raw).toEqual([true, false]); // the terminal is given back
      expect(terminal.written).toBe(''); // every frame came from the worker, none through this thread
    } finally {
      closeSync(fd);
    }
  });

  it('can post its frames back to be written by this thread instead; console lines of this thread are drawn above the frame', async () => {
    const terminal = new FakeTerminal(80, 24);
    const events = new RunEvents();
    const warnBefore = console.warn;
    const errors = new FakeTerminal(80, 24);
    const detach = attachScreen(events, { output: { post: true }, terminal, errorTerminal: errors, warn: (l) => expect.fail(l) });
    for (const e of trainingEvents(sampleGraph(), 'train:pre', classNames(3), 10)) events.emit(e);
    console.warn('a %s from the training thread', 'warning');
    console.log('a line from the training thread');
    const drawn = () => errors.written.includes('a warning from the training thread') && terminal.written.includes('a line from the training thread');
    await waitFor('the console lines', drawn);
    events.emit(runEnd);
    await detach();
    expect(console.warn).toBe(warnBefore);
    const text = plainText(terminal.written);
    expect(text).toContain('10/250000 it');
    expect(text).toContain('done in 12s');
  });

  it('a worker that fails gives a warning and plain lines, from the first event on, and detach still returns', async () => {
    const warnings: string[] = [];
    const lines: string[] = [];
    const events = new RunEvents();
    // A descriptor open for reading only: the worker's first write fails.
    const fd = openSync(join(dir, 'read-only.txt'), 'w+');
    closeSync(fd);
    const readOnly = openSync(join(dir, 'read-only.txt'), 'r');
    const terminal = new FakeTerminal(80, 24);
    let fellBack = 0;
    const detach = attachScreen(events, {
      output: { fd: readOnly }, terminal, write: (l) => lines.push(l), warn: (l) => warnings.push(l), onFallback: () => fellBack++,
    });
    for (const e of trainingEvents(sampleGraph(), 'train:pre', classNames(3), 3)) events.emit(e);
    await waitFor('the warning', () => warnings.length > 0);
    events.emit(runEnd);
    await detach();
    closeSync(readOnly);
    expect(warnings).toHaveLength(1);
    expect(fellBack).toBe(1); // the CLI's Ctrl-C says again what it does
    expect(warnings[0]).toMatch(/^mtc: the run screen stopped: .*EBADF.*; showing plain output instead$/);
    expect(warnings[0]).not.toContain('\n    at ');
    expect(lines[0]).toMatch(/^mtc run: experiment/); // the run so far was replayed
    expect(lines.join('\n')).toContain('train:pre');
  });

  it('the main thread never loads React, Ink or Yoga (a process of its own, checked in its module cache)', () => {
    const entry = workerEntryUrl(new URL('./fixtures/screen-main.js', import.meta.url)).href;
    const args = ['--input-type=module', '-e', 'await import(process.argv[1])', entry];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 50_000, env: { ...process.env, NODE_ENV: 'production' } });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '{}') as { screenOnly: string[]; afterImportingInk: string[] };
    expect(plainText(r.stdout)).toContain('50/250000 it'); // the worker drew to the process's stdout
    expect(plainText(r.stdout)).toContain('done in 12s');
    expect(report.screenOnly).toEqual([]);
    // The check sees React when it is there: importing Ink on the main thread puts it in the cache.
    expect(report.afterImportingInk.some((k) => /[\\/]react[\\/]/.test(k))).toBe(true);
  });
});
