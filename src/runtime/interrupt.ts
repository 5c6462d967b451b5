/**
 * A stage stopped at the user's request (the first Ctrl-C, or `q` on the screen) after saving what
 * can be resumed: the executor marks it `interrupted`, not `failed`, and `mtc run` exits with 130.
 */
export class StageInterrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageInterrupted';
  }
}

/** Whether `err` means "stopped on request" (our own error, or an abort of the run's signal). */
export function isInterruption(err: unknown, signal?: AbortSignal): boolean {
  if (err instanceof StageInterrupted) return true;
  return signal?.aborted === true && err instanceof Error && (err.name === 'AbortError' || err === signal.reason);
}
