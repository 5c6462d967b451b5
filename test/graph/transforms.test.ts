import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isDummy2d, nnunetProfile, TRANSFORM_KINDS, TRANSFORMS } from '../../src/graph/transforms.js';
import { graphSchema } from '../../src/graph/schema.js';

describe('the transform declarations', () => {
  it("list every transform once, in nnU-Net's order", () => {
    expect(TRANSFORMS.map((t) => t.kind)).toEqual([...TRANSFORM_KINDS]);
    expect(TRANSFORMS.filter((t) => t.stage === 'spatial').map((t) => t.kind)).toEqual(['rotation', 'scaling', 'elastic']);
    expect(TRANSFORMS[TRANSFORMS.length - 1].kind).toBe('mirror');
    expect(JSON.stringify(graphSchema)).toContain(JSON.stringify([...TRANSFORM_KINDS]));
  });

  it("apply nnU-Net's dummy 2D rule: largest patch edge more than 3 times the z edge", () => {
    expect(isDummy2d([96, 192, 192])).toBe(false);
    expect(isDummy2d([20, 320, 256])).toBe(true);
    expect(isDummy2d([64, 192, 192])).toBe(false); // exactly 3: not
    expect(isDummy2d([192, 64, 64])).toBe(false); // z largest: not
  });

  it('are what docs/language.md tabulates (range, law, p per channel, nnU-Net setting)', () => {
    const doc = readFileSync('docs/language.md', 'utf8');
    for (const t of TRANSFORMS) {
      // The transforms table (the augmentation block's field table, which comes first, has rows of the same names).
      const row = doc.split('\n').filter((l) => l.startsWith(`| \`${t.kind}\` |`)).at(-1);
      expect(row, t.kind).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      expect(cells[3], t.kind).toBe(t.range ? (t.range.law === 'uniform' ? 'uniform' : 'around 1') : '');
      expect(Number(cells[4]), t.kind).toBe(t.pChannel);
      expect(cells[5], t.kind).toContain(`p ${t.nnunet.p}`);
      if (t.nnunet.range) expect(cells[5], t.kind).toContain(`[${t.nnunet.range.join(', ')}]`);
    }
    expect(nnunetProfile().transforms).toHaveLength(TRANSFORMS.length);
  });
});
