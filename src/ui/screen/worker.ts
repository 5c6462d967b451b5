/**
 * The screen's worker thread: the event reducer, React, Ink and Yoga live here, never in the
 * training's thread, which only posts its events (src/ui/screen/host.ts). Started by the host with
 * a ScreenWorkerData; answers `ready` once mounted and `finished` once the last frame and the
 * epilogue are written.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RunEvents } from '../../runtime/events.js';
import { mountInkScreen } from '../ink/render.js';
import type { FromScreen, ScreenWorkerData, ToScreen } from './protocol.js';
import { TerminalOut } from './terminal-out.js';

if (!parentPort) throw new Error('src/ui/screen/worker.ts runs as a worker thread of the run screen (src/ui/screen/host.ts)');
const port = parentPort;
const data = workerData as ScreenWorkerData;
const post = (m: FromScreen) => port.postMessage(m);

const sink = (stream: 'stdout' | 'stderr') =>
  'fd' in data.output
    ? { fd: stream === 'stdout' ? data.output.fd : (data.output.errFd ?? 2) }
    : { post: (text: string) => post({ type: 'output', stream, text }) };
const stdout = new TerminalOut(data, sink('stdout'));
const stderr = new TerminalOut(data, sink('stderr'));
const events = new RunEvents();
const screen = mountInkScreen(events, {
  stdout: stdout as unknown as NodeJS.WriteStream,
  stderr: stderr as unknown as NodeJS.WriteStream,
  maxFps: data.maxFps,
  progressIntervalMs: data.progressIntervalMs,
});

port.on('message', (m: ToScreen) => {
  switch (m.type) {
    case 'event':
      events.emit(m.event);
      break;
    case 'resize':
      stdout.resize(m.columns, m.rows);
      stderr.resize(m.columns, m.rows);
      break;
    case 'stopping':
      screen.setStopping(m.count);
      break;
    case 'console':
      // Ink patched this thread's console: the line is drawn above the frame.
      if (m.stream === 'stdout') console.log(m.text);
      else console.error(m.text);
      break;
    case 'finish':
      void screen.finish().then(() => {
        post({ type: 'finished' });
        port.close();
      });
      break;
  }
});
post({ type: 'ready' });
