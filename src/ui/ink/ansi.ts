import type { Line, Segment } from './layout.js';

/**
 * A line of segments as one string with SGR escape codes. The screen draws each line as a single
 * Ink text node: a node per segment made a frame several times dearer (React and Yoga work per
 * node), and the layout has already fitted every line to the width.
 */
const FG: Record<string, number> = { black: 30, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, white: 37, gray: 90, grey: 90 };

export function colourEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

function paint(s: Segment): string {
  const codes: number[] = [];
  if (s.bold) codes.push(1);
  if (s.dim) codes.push(2);
  if (s.color && FG[s.color] !== undefined) codes.push(FG[s.color]);
  return codes.length === 0 || s.text === '' ? s.text : `\u001b[${codes.join(';')}m${s.text}\u001b[0m`;
}

export function lineToAnsi(line: Line, colour: boolean): string {
  return line.map((s) => (colour ? paint(s) : s.text)).join('');
}
