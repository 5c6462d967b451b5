import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatSource, parseSource } from '../../src/compiler/index.js';
import { BASE } from './helpers.js';

/** The AST without positions: what formatting must preserve. */
function shape(file: string, text: string): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([k]) => k !== 'span' && k !== 'specSpan' && k !== 'path').map(([k, x]) => [k, strip(x)]));
    }
    return v;
  };
  return strip(parseSource(file, text).ast);
}

function comments(text: string): string[] {
  return parseSource('x.mt', text).comments.map((c) => c.image.trimEnd());
}

const files = [
  ...(readdirSync('stdlib', { recursive: true }) as string[]).filter((f) => f.endsWith('.mt')).map((f) => `stdlib/${f}`),
  ...readdirSync('experiments').filter((f) => f.endsWith('.mt')).map((f) => `experiments/${f}`),
];

describe('mtc fmt', () => {
  for (const f of files) {
    it(`round-trips ${f}: same syntax tree, same comments, idempotent`, () => {
      const text = readFileSync(f, 'utf8');
      const once = formatSource(f, text).text;
      expect(once).not.toBeNull();
      expect(shape(f, once!)).toEqual(shape(f, text));
      expect(comments(once!)).toEqual(comments(text));
      expect(formatSource(f, once!).text).toBe(once);
    });
  }

  it('keeps the shipped files (except the hand-tuned quickstart) in canonical form', () => {
    for (const f of files.filter((x) => !x.endsWith('quickstart.mt'))) expect(formatSource(f, readFileSync(f, 'utf8')).text, f).toBe(readFileSync(f, 'utf8'));
  });

  it('normalises spacing and indentation, aligns values, keeps comments and blank lines', () => {
    const messy = 'dataset   d{root "D"   // the folder\n cases 3\n\n\n\n      classes {a [1,2]  tags [cancer] bb [2]}}\nexperiment e extends f { datasets [ d , x ] evaluation { tta true step 0.5 } }';
    expect(formatSource('m.mt', messy).text).toBe(
      'dataset d {\n  root  "D"  // the folder\n  cases 3\n\n  classes { a [1, 2]  tags [cancer]  bb [2] }\n}\n' +
      'experiment e extends f { datasets [d, x]  evaluation { tta true  step 0.5 } }\n',
    );
  });

  it('refuses files with syntax errors', () => {
    const r = formatSource('bad.mt', 'dataset d { root "x" ');
    expect(r.text).toBeNull();
    expect(r.diagnostics.map((d) => d.code)).toContain('MT0104');
  });

  it('is idempotent on the test base program', () => {
    const once = formatSource('b.mt', BASE).text!;
    expect(formatSource('b.mt', once).text).toBe(once);
  });
});
