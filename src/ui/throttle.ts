import type { RunEvent, RunEvents } from '../runtime/events.js';
import { emptyRunView, reduceRunView, type RunView } from './state.js';

export interface ThrottleOptions {
  /** Least milliseconds between two published views (default 250: four frames a second at most). */
  intervalMs?: number;
  /**
   * Least milliseconds between two views when only progress moved (default: twice intervalMs;
   * the screen uses 1000). Each Ink frame costs milliseconds of CPU (its output is built
   * character by character), which a training should not pay for more often than it helps.
   */
  progressIntervalMs?: number;
  now?: () => number;
  setTimer?: (f: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/**
 * The screen's model, kept off the training's path: every event goes through the (cheap, pure)
 * reducer at once, but listeners (React) hear of the new view at most once per interval, so the
 * screen draws a few times a second whatever the event rate. Timers are unref'd: a pending frame
 * never keeps the process alive.
 */
export class ThrottledView {
  private latest: RunView = emptyRunView;
  private published: RunView = emptyRunView;
  private readonly listeners = new Set<() => void>();
  private timer: unknown = null;
  private last = Number.NEGATIVE_INFINITY;
  private readonly interval: number;
  private readonly progressInterval: number;
  /** When the pending frame is due. */
  private due = Number.POSITIVE_INFINITY;
  private readonly now: () => number;
  private readonly setTimer: (f: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;
  private readonly unsubscribe: () => void;

  constructor(events: RunEvents, options: ThrottleOptions = {}) {
    this.interval = options.intervalMs ?? 250;
    this.progressInterval = Math.max(this.interval, options.progressIntervalMs ?? 2 * this.interval);
    this.now = options.now ?? (() => performance.now());
    this.setTimer =
      options.setTimer ??
      ((f, ms) => {
        const t = setTimeout(f, ms);
        t.unref();
        return t;
      });
    this.clearTimer = options.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
    this.unsubscribe = events.subscribe((e) => this.push(e));
  }

  push(event: RunEvent): void {
    this.latest = reduceRunView(this.latest, event);
    // The end of the run is drawn at once: the screen is about to be unmounted.
    if (event.type === 'run-end') this.flush();
    else this.schedule(event.type === 'stage-progress' ? this.progressInterval : this.interval);
  }

  private schedule(interval: number): void {
    const due = this.last + interval;
    if (this.timer !== null) {
      if (due >= this.due) return;
      this.clearTimer(this.timer); // a stage started or ended: draw sooner than the progress tick
    }
    this.due = due;
    this.timer = this.setTimer(() => this.flush(), Math.max(0, due - this.now()));
  }

  /** Publishes the latest view now (also what the end of a run and unmounting call). */
  flush(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.due = Number.POSITIVE_INFINITY;
    this.last = this.now();
    if (this.published === this.latest) return;
    this.published = this.latest;
    for (const l of this.listeners) l();
  }

  /** useSyncExternalStore's pair: the view last published, and a subscription to publications. */
  readonly getSnapshot = (): RunView => this.published;
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  dispose(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.unsubscribe();
  }
}
