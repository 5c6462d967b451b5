import { render } from 'ink';
import type { RunEvents } from '../../runtime/events.js';
import { RunApp } from './App.js';

/**
 * Mounts the Ink screen on the terminal; returns a function that waits for the last frame and
 * unmounts. Ctrl-C and `q` call `onInterrupt` (the screen holds the terminal in raw mode, so no
 * SIGINT arrives).
 */
export function attachInkRenderer(events: RunEvents, onInterrupt?: () => void): () => Promise<void> {
  const instance = render(<RunApp events={events} onInterrupt={onInterrupt} />, { exitOnCtrlC: false, patchConsole: true });
  return async () => {
    // Let React flush the final events before unmounting, so the Dice table stays on screen.
    await new Promise((r) => setTimeout(r, 50));
    instance.unmount();
    await instance.waitUntilExit();
  };
}
