import { describe, expect, it } from 'vitest';
import { explainCommand } from '../../src/cli/commands/explain.js';
import { ioParts } from './helpers.js';

const io = () => ioParts();

describe('mtc explain', () => {
  it('prints the explanation with an example and its fix', async () => {
    const { cli, out } = io();
    expect(await explainCommand('MT0305', {}, cli)).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('MT0305: patch not divisible by the total stride');
    expect(text).toContain('Example:\n\n    architecture a { patch [36, 32, 32]');
    expect(text).toContain('Fixed:');
  });

  it('suggests the closest code for an unknown one', async () => {
    const { cli, err } = io();
    expect(await explainCommand('MT0320', {}, cli)).toBe(1);
    expect(err.join('\n')).toMatch(/unknown code 'MT0320'; did you mean MT03\d\d\?/);
  });
});
