/**
 * A batch loader worker thread (train/loader.ts): draws the batches it is asked for with the same
 * BatchDrawer as the main thread, announcing each sample's case first (so that a crash can be
 * reported with it), and hands the finished arrays back by transfer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchDrawer } from './batch.js';
import type { WorkerInput, WorkerMessage } from './loader.js';

const port = parentPort;
if (!port) throw new Error('loader-worker.ts runs as a worker thread of train/loader.ts');
const input = workerData as WorkerInput;
const drawer = new BatchDrawer(input.datasets, input.params);

port.on('message', (m: { type: 'batch'; k: number }) => {
  const k = m.k;
  try {
    const arrays = drawer.draw(k, (id, dataset) => {
      port.postMessage({ type: 'case', k, id, dataset } satisfies WorkerMessage);
      if (input.failAt?.batch === k) {
        if (input.failAt.how === 'exit') process.exit(3);
        throw new Error('injected failure');
      }
    });
    port.postMessage({ type: 'batch', k, arrays } satisfies WorkerMessage, [arrays.image.buffer, arrays.targets.buffer, arrays.mask.buffer] as ArrayBuffer[]);
  } catch (err) {
    port.postMessage({ type: 'error', k, message: err instanceof Error ? err.message : String(err) } satisfies WorkerMessage);
  }
});
