/**
 * The one error type of the data layer. Its message is complete and user-facing: it names the file
 * or folder, says what is wrong and what to do. The CLI prints `message` without a stack trace.
 */
export interface MtDataErrorDetails {
  /** The file or folder the problem is about, when there is one. */
  path?: string;
  /** Individual problems when several were found at once (the message lists them all). */
  problems?: string[];
}

export class MtDataError extends Error {
  readonly path: string | undefined;
  readonly problems: string[];

  constructor(message: string, details: MtDataErrorDetails = {}) {
    super(message);
    this.name = 'MtDataError';
    this.path = details.path;
    this.problems = details.problems ?? [];
  }

  /** `PATH: what is wrong. what to do.` for a single problem about one file. */
  static about(path: string, what: string, todo: string): MtDataError {
    return new MtDataError(`${path}: ${what}. ${todo}`, { path });
  }
}

export function isMtDataError(e: unknown): e is MtDataError {
  return e instanceof MtDataError;
}
