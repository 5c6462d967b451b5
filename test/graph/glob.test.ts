import { describe, expect, it } from 'vitest';
import { filterByGlobs, isGlob, matchesGlob } from '../../src/graph/glob.js';

describe('name patterns', () => {
  it('match whole names with *, ? and [sets]', () => {
    expect(matchesGlob('baselines_kits19_multitalent_unet_fold0', 'baselines_*_fold0')).toBe(true);
    expect(matchesGlob('baselines_kits19_multitalent_unet_fold1', 'baselines_*_fold0')).toBe(false);
    expect(matchesGlob('train:md_unet/fold3', 'train:*')).toBe(true);
    expect(matchesGlob('fold3', 'fold?')).toBe(true);
    expect(matchesGlob('fold3', 'fold[0-2]')).toBe(false);
    expect(matchesGlob('fold3', 'fold[!0-2]')).toBe(true);
    expect(matchesGlob('a.b', 'a?b')).toBe(true);
    expect(matchesGlob('axb', 'a.b')).toBe(false); // a dot is a dot
    expect(matchesGlob('x[', 'x[')).toBe(true); // an unclosed bracket matches itself
  });

  it('tell patterns from names, and filter in the order of the names', () => {
    expect([isGlob('md_unet'), isGlob('md_*'), isGlob('f[01]')]).toEqual([false, true, true]);
    expect(filterByGlobs(['c', 'a1', 'b', 'a2'], ['a*', 'c'])).toEqual(['c', 'a1', 'a2']);
  });
});
