/**
 * The batch source of training: batches in index order, prepared ahead by worker threads.
 *
 * Batch k is a pure function of (params.seed, k, the data) (train/batch.ts BatchDrawer): it draws its
 * cases, patches and augmentation from Prng.derive(seed, 'batch', k). So the number of workers never
 * changes results, and a run resumed at iteration k starts the source at k and needs nothing else.
 *
 * Workers (node:worker_threads) each compute whole batches; at most `queue` batches are in flight
 * or waiting, so memory stays bounded while a batch is ready before the step asks for it. The
 * cases' voxel arrays are shared with the workers through SharedArrayBuffers (copied there at most
 * once per case, never per batch); finished batches come back as transferred buffers. A worker
 * that throws or dies fails the source with a BatchLoaderError naming the batch and the case it was
 * working on; nothing waits forever. close() stops every worker (training done, failed or aborted).
 */
import { Worker } from 'node:worker_threads';
import type { PreprocessedCase, PreprocessedDataset } from '../data/types.js';
import { isOnSharedMemory, onSharedMemory } from '../data/shared.js';
import { workerEntryUrl } from '../worker-url.js';
import { BatchDrawer, type BatchArrays, type BatchParams } from './batch.js';

export interface BatchSource {
  /** The next batch, in index order from `startIteration`. Rejects with BatchLoaderError when loading failed, and past `total`. */
  next(): Promise<BatchArrays>;
  /** Stops the workers; pending and later next() calls reject. Idempotent. */
  close(): Promise<void>;
  /** Worker threads in use (0: batches are drawn on the calling thread). */
  readonly workers: number;
}

export interface BatchSourceOptions {
  /** The datasets trained on (their `train` ids are drawn from). */
  datasets: readonly PreprocessedDataset[];
  /** Seed, heads, patch (architecture), batch size, sampling, augmentation. */
  params: BatchParams;
  /** Index of the first batch next() returns. */
  startIteration: number;
  /** Batches exist for indices below `total`. */
  total: number;
  /** Worker threads; 0 draws each batch on the calling thread when next() is called. */
  workers: number;
  /** Batches prepared ahead, in flight or waiting (default: twice the workers, at least 2). */
  queue?: number;
  /** Testing only: make the worker that draws batch `batch` throw, or exit its thread, at that batch's first case. */
  failAt?: { batch: number; how: 'throw' | 'exit' };
}

/** Loading a batch failed: which batch, which case (when known), and why. */
export class BatchLoaderError extends Error {
  constructor(
    message: string,
    readonly batch: number,
    readonly caseId: string | null,
    readonly dataset: string | null,
  ) {
    super(message);
    this.name = 'BatchLoaderError';
  }
}

/** The default worker count: one per spare core, at least 1, at most 8 (nnU-Net uses up to 12 augmentation processes). */
export function defaultLoaderWorkers(cores: number): number {
  return Math.max(1, Math.min(8, cores - 1));
}

export function createBatchSource(opts: BatchSourceOptions): BatchSource {
  if (!Number.isInteger(opts.workers) || opts.workers < 0) throw new Error(`the batch loader needs a whole number of workers >= 0, got ${opts.workers}`);
  if (!Number.isInteger(opts.startIteration) || opts.startIteration < 0) throw new Error(`startIteration must be a whole number >= 0, got ${opts.startIteration}`);
  // Built here too, so that bad input (a missing training case, an unknown transform) fails at once, on this thread.
  const drawer = new BatchDrawer(opts.datasets, opts.params);
  if (opts.workers === 0) return new InlineBatchSource(drawer, opts);
  return new WorkerBatchSource(opts);
}

function outOfRange(k: number, total: number): Error {
  return new Error(`internal: batch ${k} asked for, but the training has ${total} iterations`);
}

class InlineBatchSource implements BatchSource {
  readonly workers = 0;
  private k: number;
  private closed = false;

  constructor(
    private readonly drawer: BatchDrawer,
    private readonly opts: BatchSourceOptions,
  ) {
    this.k = opts.startIteration;
  }

  async next(): Promise<BatchArrays> {
    if (this.closed) throw new Error('the batch source is closed');
    const k = this.k;
    if (k >= this.opts.total) throw outOfRange(k, this.opts.total);
    let current: { id: string; dataset: string } | null = null;
    try {
      const out = this.drawer.draw(k, (id, dataset) => {
        current = { id, dataset };
        if (this.opts.failAt?.batch === k) throw new Error('injected failure');
      });
      this.k++;
      return out;
    } catch (err) {
      const c = current as { id: string; dataset: string } | null;
      throw new BatchLoaderError(`loading batch ${k} failed${c ? ` at case '${c.id}' of dataset '${c.dataset}'` : ''}: ${(err as Error).message}`, k, c?.id ?? null, c?.dataset ?? null);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const sharedCopies = new WeakMap<PreprocessedCase, PreprocessedCase>();

/**
 * The case on shared memory (data/shared.ts): the case itself when its arrays already are (as
 * preprocessing returns them), else one copy, kept for later sources.
 */
export function shareCase(c: PreprocessedCase): PreprocessedCase {
  if (isOnSharedMemory(c)) return c;
  const known = sharedCopies.get(c);
  if (known && known.image.length === c.image.length) return known;
  const copy = onSharedMemory(c);
  sharedCopies.set(c, copy);
  return copy;
}

/** The training part of the datasets, shared: what the workers get (only cases that are drawn). */
function sharedDatasets(datasets: readonly PreprocessedDataset[]): PreprocessedDataset[] {
  return datasets.map((d) => {
    const train = new Set(d.train);
    return { name: d.name, cases: d.cases.filter((c) => train.has(c.id)).map(shareCase), train: [...d.train], holdout: [] };
  });
}

/** Messages of loader-worker.ts. */
export type WorkerMessage = { type: 'batch'; k: number; arrays: BatchArrays } | { type: 'error'; k: number; message: string };

export interface WorkerInput {
  datasets: PreprocessedDataset[];
  params: BatchParams;
  /**
   * Shared with the main thread, two int32 per worker: the batch being drawn and the index (into the
   * datasets' cases, in order) of the case being read, written before each sample; so a worker that
   * dies is reported with its case without a message per sample.
   */
  status: SharedArrayBuffer;
  index: number;
  failAt?: BatchSourceOptions['failAt'];
}

/** The cases of `datasets` in the order WorkerInput.status indexes them. */
export function casesInOrder(datasets: readonly PreprocessedDataset[]): { id: string; dataset: string }[] {
  return datasets.flatMap((d) => d.cases.map((c) => ({ id: c.id, dataset: c.dataset })));
}

interface Slot {
  index: number;
  worker: Worker;
  /** Batch being drawn, or null when idle. */
  busy: number | null;
  exited: boolean;
}

class WorkerBatchSource implements BatchSource {
  readonly workers: number;
  private readonly slots: Slot[] = [];
  private readonly ready = new Map<number, BatchArrays>();
  private readonly queue: number;
  private readonly total: number;
  private nextToAssign: number;
  private nextToReturn: number;
  private failure: Error | null = null;
  private closed = false;
  private waiter: { resolve: (b: BatchArrays) => void; reject: (e: Error) => void } | null = null;
  private readonly status: Int32Array;
  private readonly cases: { id: string; dataset: string }[];

  constructor(opts: BatchSourceOptions) {
    this.workers = opts.workers;
    this.queue = Math.max(1, opts.queue ?? Math.max(2, 2 * opts.workers));
    this.total = opts.total;
    this.nextToAssign = this.nextToReturn = opts.startIteration;
    const datasets = sharedDatasets(opts.datasets);
    this.cases = casesInOrder(datasets);
    const status = new SharedArrayBuffer(8 * opts.workers);
    this.status = new Int32Array(status).fill(-1);
    const entry = workerEntryUrl(new URL('./loader-worker.js', import.meta.url));
    for (let i = 0; i < opts.workers; i++) {
      let worker: Worker;
      try {
        const input: WorkerInput = { datasets, params: opts.params, status, index: i, failAt: opts.failAt };
        worker = new Worker(entry, { workerData: input, name: `mtc-loader-${i}` });
      } catch (err) {
        void this.stopWorkers();
        throw new Error(`could not start batch loader worker ${i}: ${(err as Error).message}`);
      }
      const slot: Slot = { index: i, worker, busy: null, exited: false };
      slot.worker.on('message', (m: WorkerMessage) => this.onMessage(slot, m));
      slot.worker.on('error', (err: Error) => this.onWorkerError(slot, err));
      slot.worker.on('exit', (code: number) => this.onExit(slot, code));
      slot.worker.unref(); // idle workers never keep the process alive; next() refs them while it waits
      this.slots.push(slot);
    }
    this.pump();
  }

  private where(slot: Slot): { text: string; batch: number; caseId: string | null; dataset: string | null } {
    const k = slot.busy ?? -1;
    // The case the worker said (in shared memory) it was reading, if it was reading one for this batch.
    const at = Atomics.load(this.status, 2 * slot.index) === k ? Atomics.load(this.status, 2 * slot.index + 1) : -1;
    const c = k >= 0 && at >= 0 ? this.cases[at] : null;
    return {
      text: `batch loader worker ${slot.index}${k >= 0 ? ` while drawing batch ${k}` : ''}${c ? ` (case '${c.id}' of dataset '${c.dataset}')` : ''}`,
      batch: k,
      caseId: c?.id ?? null,
      dataset: c?.dataset ?? null,
    };
  }

  private onMessage(slot: Slot, m: WorkerMessage): void {
    if (this.failure || this.closed) return;
    if (m.type === 'batch') {
      slot.busy = null;
      this.ready.set(m.k, m.arrays);
      this.deliver();
      this.pump();
    } else {
      const w = this.where(slot);
      this.fail(new BatchLoaderError(`${w.text} failed: ${m.message}`, m.k, w.caseId, w.dataset));
    }
  }

  private onWorkerError(slot: Slot, err: Error): void {
    if (this.failure || this.closed) return;
    const w = this.where(slot);
    this.fail(new BatchLoaderError(`${w.text} failed: ${err.message}`, w.batch, w.caseId, w.dataset));
  }

  private onExit(slot: Slot, code: number): void {
    slot.exited = true;
    if (this.failure || this.closed) return;
    const w = this.where(slot);
    this.fail(new BatchLoaderError(`${w.text} stopped unexpectedly (exit code ${code}); the batch loader's workers are no longer alive`, w.batch, w.caseId, w.dataset));
  }

  private fail(err: Error): void {
    this.failure = err;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
    void this.stopWorkers();
  }

  /** Hands out work: the next batch index to each idle worker, while fewer than `queue` batches are ahead. */
  private pump(): void {
    if (this.failure || this.closed) return;
    for (const slot of this.slots) {
      if (slot.busy !== null || slot.exited) continue;
      if (this.nextToAssign >= this.total || this.nextToAssign - this.nextToReturn >= this.queue) break;
      slot.busy = this.nextToAssign++;
      slot.worker.postMessage({ type: 'batch', k: slot.busy });
    }
  }

  private deliver(): void {
    if (!this.waiter) return;
    const b = this.ready.get(this.nextToReturn);
    if (!b) return;
    this.ready.delete(this.nextToReturn);
    this.nextToReturn++;
    const { resolve } = this.waiter;
    this.waiter = null;
    this.setRef(false);
    resolve(b);
  }

  private setRef(on: boolean): void {
    for (const s of this.slots) if (!s.exited) (on ? s.worker.ref() : s.worker.unref());
  }

  next(): Promise<BatchArrays> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the batch source is closed'));
    if (this.waiter) return Promise.reject(new Error('internal: next() called again before the previous batch arrived'));
    if (this.nextToReturn >= this.total) return Promise.reject(outOfRange(this.nextToReturn, this.total));
    return new Promise<BatchArrays>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.setRef(true);
      this.deliver();
      this.pump();
    });
  }

  private async stopWorkers(): Promise<void> {
    await Promise.all(this.slots.map((s) => (s.exited ? undefined : s.worker.terminate().catch(() => undefined))));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(new Error('the batch source is closed'));
    this.ready.clear();
    await this.stopWorkers();
  }
}
