import { afterEach, describe, expect, it, vi } from 'vitest';
import { interruptHandling, stageProcessArgs, STAGE_CHILD_ENV } from '../../src/cli/commands/run.js';
import { STAGE_NODE_FLAGS } from '../../src/runtime/executor/stage-process.js';
import { captureIO } from './helpers.js';

describe('Ctrl-C', () => {
  afterEach(() => vi.restoreAllMocks());

  it('the first asks the run to stop gracefully; a second aborts at once with exit code 130', () => {
    const io = captureIO();
    let hardStops = 0;
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const { controller, dispose } = interruptHandling(io, () => hardStops++);
    try {
      process.emit('SIGINT', 'SIGINT');
      expect(controller.signal.aborted).toBe(true);
      expect(exit).not.toHaveBeenCalled();
      expect(io.stderr).toEqual(['mtc: stopping after the current iteration and writing a checkpoint (Ctrl-C again to abort at once)']);
      process.emit('SIGINT', 'SIGINT');
      expect(hardStops).toBe(1); // the children of --jobs are killed
      expect(exit).toHaveBeenCalledWith(130);
      expect(io.stderr.at(-1)).toBe('mtc: aborted');
    } finally {
      dispose();
    }
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('says what it does on stderr only while no screen is drawing (a screen that gave way to plain lines does not)', () => {
    const io = captureIO();
    let drawing = true;
    const first = interruptHandling(io, () => undefined, () => drawing);
    try {
      process.emit('SIGINT', 'SIGINT');
      expect(first.controller.signal.aborted).toBe(true);
      expect(io.stderr).toEqual([]);
    } finally {
      first.dispose();
    }
    drawing = false;
    const second = interruptHandling(io, () => undefined, () => drawing);
    try {
      process.emit('SIGINT', 'SIGINT');
      expect(io.stderr).toEqual(['mtc: stopping after the current iteration and writing a checkpoint (Ctrl-C again to abort at once)']);
    } finally {
      second.dispose();
    }
  });

  it("a stage process started by mtc run ignores SIGINT and takes its parent's SIGTERM as the interrupt", () => {
    const io = captureIO();
    let hardStops = 0;
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const before = process.listenerCount('SIGINT');
    const { controller, dispose } = interruptHandling(io, () => hardStops++, false, 'SIGTERM');
    try {
      process.emit('SIGINT', 'SIGINT'); // the terminal's, to the whole process group
      process.emit('SIGINT', 'SIGINT');
      expect(controller.signal.aborted).toBe(false);
      expect(io.stderr).toEqual([]);
      process.emit('SIGTERM', 'SIGTERM'); // the parent's
      expect(controller.signal.aborted).toBe(true);
      expect(exit).not.toHaveBeenCalled();
      process.emit('SIGTERM', 'SIGTERM');
      expect(hardStops).toBe(1);
      expect(exit).toHaveBeenCalledWith(130);
    } finally {
      dispose();
    }
    expect(process.listenerCount('SIGINT')).toBe(before);
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('stage processes start with the V8 flags of a training process, then mtc run --stage', () => {
    expect(STAGE_NODE_FLAGS).toContain('--initial-old-space-size=256');
    const args = stageProcessArgs('train:x', '/runs/x', 'cpu', true);
    expect(args.slice(0, STAGE_NODE_FLAGS.length)).toEqual([...STAGE_NODE_FLAGS]);
    expect(args[STAGE_NODE_FLAGS.length]).toMatch(/bin[\\/]mtc\.js$/);
    expect(args.slice(STAGE_NODE_FLAGS.length + 1)).toEqual(['run', '--stage', 'train:x', '--run', '/runs/x', '--json', '--backend', 'cpu', '--force-stage']);
    expect(STAGE_CHILD_ENV).toBe('MTC_STAGE_CHILD');
  });
});
