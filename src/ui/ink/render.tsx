import { render } from 'ink';
import type { RunEvents } from '../../runtime/events.js';
import { ThrottledView } from '../throttle.js';
import { colourEnabled, lineToAnsi } from './ansi.js';
import { RunApp } from './App.js';
import { epilogueLines } from './layout.js';

/** Frames a second at most (a stage starting or ending); progress alone redraws once a second. */
const MAX_FPS = 4;
const PROGRESS_INTERVAL_MS = 1000;

/**
 * Mounts the Ink screen on the terminal; returns a function that draws the last frame and
 * unmounts. Ctrl-C and `q` call `onInterrupt` (the screen holds the terminal in raw mode, so no
 * SIGINT arrives): the same path as SIGINT.
 */
export function attachInkRenderer(events: RunEvents, onInterrupt?: () => void): () => Promise<void> {
  const store = new ThrottledView(events, { intervalMs: 1000 / MAX_FPS, progressIntervalMs: PROGRESS_INTERVAL_MS });
  // Not incrementalRendering: under tmux it left stale lines behind when the frame's height changed.
  const instance = render(<RunApp events={events} store={store} onInterrupt={onInterrupt} />, { exitOnCtrlC: false, patchConsole: true, maxFps: MAX_FPS });
  return async () => {
    store.flush();
    // Let React commit the final view and Ink write it before unmounting, so the Dice table stays on screen.
    await new Promise((r) => setTimeout(r, 1000 / MAX_FPS + 20));
    store.dispose();
    instance.unmount();
    await instance.waitUntilExit();
    // The Dice tables and the warnings in full, as plain scrollback under the last frame.
    const after = epilogueLines(store.getSnapshot(), process.stdout.columns || 80);
    if (after.length > 0) process.stdout.write(`${after.map((l) => lineToAnsi(l, colourEnabled())).join('\n')}\n`);
  };
}
