/**
 * A batch loader worker thread (train/loader.ts): draws the batches it is asked for with the same
 * BatchDrawer as the main thread, writing each sample's case to shared memory first (so that a
 * crash can be reported with it), and hands the finished arrays back by transfer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchDrawer } from './batch.js';
import { casesInOrder, type WorkerInput, type WorkerMessage } from './loader.js';

const port = parentPort;
if (!port) throw new Error('loader-worker.ts runs as a worker thread of train/loader.ts');
const input = workerData as WorkerInput;
const drawer = new BatchDrawer(input.datasets, input.params);
const status = new Int32Array(input.status);
const caseIndex = new Map(casesInOrder(input.datasets).map((c, i) => [`${c.dataset}\u0000${c.id}`, i]));

port.on('message', (m: { type: 'batch'; k: number }) => {
  const k = m.k;
  try {
    Atomics.store(status, 2 * input.index + 1, -1);
    Atomics.store(status, 2 * input.index, k);
    const arrays = drawer.draw(k, (id, dataset) => {
      Atomics.store(status, 2 * input.index + 1, caseIndex.get(`${dataset}\u0000${id}`) ?? -1);
      if (input.failAt?.batch === k) {
        if (input.failAt.how === 'exit') process.exit(3);
        throw new Error('injected failure');
      }
    });
    port.postMessage({ type: 'batch', k, arrays } satisfies WorkerMessage, [arrays.image.buffer, arrays.labels.buffer, arrays.regions.buffer, arrays.mask.buffer] as ArrayBuffer[]);
  } catch (err) {
    port.postMessage({ type: 'error', k, message: err instanceof Error ? err.message : String(err) } satisfies WorkerMessage);
  }
});
