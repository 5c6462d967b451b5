import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_CODES } from '../../src/compiler/index.js';

// Issue #3: every diagnostic code has a test that triggers it. The triggering tests name the code
// they expect as a string literal; this guard fails when a new code is added without one.
const TEST_FILES = ['test/compiler', 'test/cli']
  .flatMap((dir) => readdirSync(dir).filter((f) => /\.test\.tsx?$/.test(f) && f !== 'codes-covered.test.ts').map((f) => join(dir, f)));
const SOURCES = TEST_FILES.map((f) => readFileSync(f, 'utf8'));

describe('diagnostic codes', () => {
  it('each code is expected by at least one test', () => {
    const untested = Object.keys(DIAGNOSTIC_CODES).filter((code) => !SOURCES.some((s) => s.includes(`'${code}'`)));
    expect(untested).toEqual([]);
  });
});
