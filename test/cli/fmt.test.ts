import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fmtCommand } from '../../src/cli/commands/fmt.js';
import { ioParts as io } from './helpers.js';

describe('mtc fmt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtfmt-'));
  const messy = 'schedule s {epochs 3   iterations 2}\n';

  it('--check lists unformatted files and exits 1 without writing', async () => {
    writeFileSync(join(dir, 'a.mt'), messy);
    const { cli, out } = io(dir);
    expect(await fmtCommand(['a.mt'], { check: true }, cli)).toBe(1);
    expect(out).toEqual(['a.mt']);
    expect(readFileSync(join(dir, 'a.mt'), 'utf8')).toBe(messy);
  });

  it('rewrites files in place; then --check passes', async () => {
    const { cli } = io(dir);
    expect(await fmtCommand(['a.mt'], { check: false }, cli)).toBe(0);
    expect(readFileSync(join(dir, 'a.mt'), 'utf8')).toBe('schedule s { epochs 3  iterations 2 }\n');
    expect(await fmtCommand(['a.mt'], { check: true }, io(dir).cli)).toBe(0);
  });

  it('leaves files with syntax errors alone and reports them', async () => {
    writeFileSync(join(dir, 'b.mt'), 'schedule s { epochs 3');
    const { cli, err } = io(dir);
    expect(await fmtCommand(['b.mt', 'missing.mt'], { check: false }, cli)).toBe(1);
    expect(err.join('\n')).toContain('error[MT0104]');
    expect(err.join('\n')).toContain("cannot read 'missing.mt': no such file");
    expect(readFileSync(join(dir, 'b.mt'), 'utf8')).toBe('schedule s { epochs 3');
  });
});
