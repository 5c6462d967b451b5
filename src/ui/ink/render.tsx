import { render } from 'ink';
import type { RunEvents } from '../../runtime/events.js';
import { ThrottledView } from '../throttle.js';
import { colourEnabled, lineToAnsi } from './ansi.js';
import { RunApp } from './App.js';
import { epilogueLines } from './layout.js';

export interface InkScreenOptions {
  /** The terminal (in the screen's worker: a TerminalOut with the host's size). */
  stdout: NodeJS.WriteStream;
  /** Where console.error/warn lines go (drawn above the frame). */
  stderr: NodeJS.WriteStream;
  /** Frames a second at most (a stage starting or ending); progress alone redraws every progressIntervalMs. */
  maxFps: number;
  progressIntervalMs: number;
}

export interface InkScreen {
  /** Stop was asked for `count` times (the keys are read by the training's thread). */
  setStopping(count: number): void;
  /** Draws the last frame, unmounts, and writes the Dice tables and warnings in full under it. */
  finish(): Promise<void>;
}

/**
 * Mounts the Ink screen on `stdout`, fed by `events`. It reads no keys: the host (the training's
 * thread) holds the terminal in raw mode and says how often stop was asked for.
 */
export function mountInkScreen(events: RunEvents, options: InkScreenOptions): InkScreen {
  const { stdout, stderr, maxFps } = options;
  const store = new ThrottledView(events, { intervalMs: 1000 / maxFps, progressIntervalMs: options.progressIntervalMs });
  const app = (stopping: number) => <RunApp events={events} store={store} stopping={stopping} />;
  // Not incrementalRendering: under tmux it left stale lines behind when the frame's height changed.
  const instance = render(app(0), { stdout, stderr, exitOnCtrlC: false, patchConsole: true, maxFps });
  return {
    setStopping: (count) => instance.rerender(app(count)),
    finish: async () => {
      store.flush();
      // Let React commit the final view and Ink write it before unmounting, so the Dice table stays on screen.
      await new Promise((r) => setTimeout(r, 1000 / maxFps + 20));
      store.dispose();
      instance.unmount();
      await instance.waitUntilExit();
      const after = epilogueLines(store.getSnapshot(), stdout.columns || 80);
      if (after.length > 0) stdout.write(`${after.map((l) => lineToAnsi(l, colourEnabled())).join('\n')}\n`);
    },
  };
}
