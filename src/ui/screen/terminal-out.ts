import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `text` to `fd`, waiting a moment whenever the descriptor is non-blocking and full. */
export function writeAllSync(fd: number, text: string): void {
  let buf = Buffer.from(text, 'utf8');
  while (buf.length > 0) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleeper, 0, 0, 2);
    }
  }
}

/**
 * The terminal as the screen's worker sees it: a writable stream with the size of the training
 * thread's stdout (relayed to `resize`), which either writes each chunk to a file descriptor
 * itself or hands it to `post` (the host writes it).
 */
export class TerminalOut extends Writable {
  readonly isTTY = true;
  columns: number;
  rows: number;

  constructor(
    size: { columns: number; rows: number },
    private readonly sink: { fd: number } | { post: (text: string) => void },
  ) {
    super({ decodeStrings: false });
    this.columns = size.columns;
    this.rows = size.rows;
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    try {
      if ('fd' in this.sink) writeAllSync(this.sink.fd, text);
      else this.sink.post(text);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  /** A new terminal size: Ink and the screen redraw to it. */
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}
