import { describe, expect, it } from 'vitest';
import { compileProgram, hasErrors, loadProgramWith, memoryHost, parseSource } from '../../src/compiler/index.js';

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'dataset', 'architecture', 'schedule', 'experiment', 'import', 'root', 'classes', 'patch', 'features', 'strides',
  'epochs', 'phase', 'heads', 'all', 'rest', 'datasets', 'pretrained', 'spacing', 'batch', 'lr', 'poly', 'sgd',
  'liver', 'spleen', 'x', '{', '}', '[', ']', '(', ')', ',', ':', '=', ';', '"s"', '"unterminated', '0', '1', '-3', '2.5e3',
  'true', 'false', '/*', '*/', '//', '\n', ' ', '\t', '"std/schedules"', '@', '\u00e9', '\u{1F600}',
  // The complete language: new declarations, inheritance, dotted names, families and nested blocks.
  'classset', 'sampling', 'augmentation', 'family', 'extends', '.', 'each', 'tagged', 'exclude', 'labels', 'targets',
  'evaluation', 'tta', 'folds', 'loss', 'dice_ce', 'kind', 'swin_unetr', 'resenc_unet', 'blocks', 'kernels', 'stages',
  'deep_supervision', 'rotation', 'p', 'range', 'mirror', 'axes', 'report', 'allow_leakage', 'liver.liver', 'all',
  'precision', 'mixed', '"std/datasets/msd"', 'feature_size', 'split',
];

async function compileText(text: string) {
  const program = await loadProgramWith('/mem/r.mt', memoryHost({ '/mem/r.mt': text }));
  return compileProgram(program);
}

describe('robustness (fixed seeds)', () => {
  it('random token sequences never throw; no graph always comes with an error', async () => {
    const next = rng(20260101);
    for (let i = 0; i < 300; i++) {
      const n = 1 + Math.floor(next() * 60);
      const parts: string[] = [];
      for (let k = 0; k < n; k++) parts.push(PIECES[Math.floor(next() * PIECES.length)]);
      const text = parts.join(next() < 0.5 ? ' ' : '');
      const { graph, diagnostics } = await compileText(text);
      if (graph === null) expect(hasErrors(diagnostics), JSON.stringify(text)).toBe(true);
      for (const d of diagnostics) {
        expect(d.span.start.line).toBeGreaterThanOrEqual(1);
        expect(d.span.start.column).toBeGreaterThanOrEqual(1);
        expect(d.span.end.offset).toBeGreaterThanOrEqual(d.span.start.offset);
        expect(d.message.length).toBeGreaterThan(0);
      }
    }
  });

  it('random bytes never throw and always produce diagnostics', async () => {
    const next = rng(7);
    for (let i = 0; i < 150; i++) {
      const bytes = new Uint8Array(1 + Math.floor(next() * 400)).map(() => Math.floor(next() * 256));
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      expect(() => parseSource('r.mt', text)).not.toThrow();
      const { graph, diagnostics } = await compileText(text);
      expect(graph).toBeNull();
      expect(diagnostics.length).toBeGreaterThan(0);
    }
  });

  it('caps the number of lexer errors on junk', () => {
    const junk = Array.from({ length: 500 }, () => '@ ').join('');
    const { diagnostics } = parseSource('r.mt', junk);
    expect(diagnostics.length).toBeLessThanOrEqual(21);
    expect(diagnostics[diagnostics.length - 1].message).toBe('too many unexpected characters; stopping here');
  });

  it('truncated prefixes of a file using the complete language never throw', async () => {
    const text = 'dataset a { root "A" cases 3 labels { background 0 x 1 y 2 } classes { x [x, y] tags [cancer] y [y] } }\nclassset c { classes [a.y, tagged(cancer)] }\naugmentation g { mirror { p 0.5 axes [z] } }\narchitecture n { kind resenc_unet patch [16, 16, 16] spacing [2, 2, 2] blocks [1, 2] }\nschedule s { epochs 2 }\nexperiment e { datasets [a] architecture n schedule s augmentation g report [c] evaluation { tta true } }\nfamily f extends e { folds each(0, 1) }\n';
    expect((await compileText(text)).graph).not.toBeNull();
    for (let cut = 0; cut < text.length; cut += 2) {
      const { graph, diagnostics } = await compileText(text.slice(0, cut));
      if (graph === null) expect(hasErrors(diagnostics), JSON.stringify(text.slice(0, cut))).toBe(true);
    }
  });

  it('truncated prefixes of a valid file never throw and always explain the missing graph', async () => {
    const text = 'dataset a { root "A" cases 3 classes { x [1, 2] y [2] } }\narchitecture n { patch [16, 16, 16] features [4, 8] }\nschedule s { epochs 2 phase heads { epochs 1 lr linear(0, 0.01) } phase all { epochs rest } }\nexperiment e { datasets [a] architecture n schedule s spacing [2, 2, 2] }\n';
    expect((await compileText(text)).graph).not.toBeNull();
    for (let cut = 0; cut < text.length; cut += 3) {
      const { graph, diagnostics } = await compileText(text.slice(0, cut));
      if (graph === null) expect(hasErrors(diagnostics), JSON.stringify(text.slice(0, cut))).toBe(true);
    }
  });
});
