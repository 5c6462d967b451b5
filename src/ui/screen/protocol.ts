import type { RunEvent } from '../../runtime/events.js';

/**
 * The messages between the training's thread (src/ui/screen/host.ts) and the screen's worker
 * thread (src/ui/screen/worker.ts), which holds the reducer, React, Ink and Yoga. Types only:
 * importing this module loads nothing.
 */

/**
 * Where the worker's frames go: written to a file descriptor from the worker (its stderr, the
 * console lines of Ink's patched console.error, to errFd, default 2), or posted back to be written
 * by the host.
 */
export type ScreenOutput = { fd: number; errFd?: number } | { post: true };

export interface ScreenWorkerData {
  output: ScreenOutput;
  columns: number;
  rows: number;
  /** Frames a second at most, and the interval of a frame when only progress moved. */
  maxFps: number;
  progressIntervalMs: number;
}

export type ToScreen =
  | { type: 'event'; event: RunEvent }
  | { type: 'resize'; columns: number; rows: number }
  /** How many times stop was asked for (q or Ctrl-C, read by the host). */
  | { type: 'stopping'; count: number }
  /** A console call of the training's thread, drawn above the frame. */
  | { type: 'console'; stream: 'stdout' | 'stderr'; text: string }
  /** Draw the last frame, unmount, write the epilogue, then answer `finished`. */
  | { type: 'finish' };

export type FromScreen =
  | { type: 'ready' }
  | { type: 'output'; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'finished' };
