import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The package's "exports" must let code inside the checkout import it by name (Node self-reference).
describe("import from 'multitalent'", () => {
  // Needs dist/ (built by `npm ci` through prepare, or `npm run build`).
  it('resolves to the built library and compiles the quickstart', () => {
    const script = `
      import { loadProgram, compileProgram, hasErrors } from 'multitalent';
      const { graph, diagnostics } = compileProgram(await loadProgram('experiments/quickstart.mt'));
      console.log(JSON.stringify({ errors: hasErrors(diagnostics), stages: graph.stages.map((s) => s.kind) }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ errors: false, stages: ['prepare', 'prepare', 'prepare', 'prepare', 'prepare', 'preprocess', 'train', 'preprocess', 'finetune', 'evaluate', 'report'] });
  });
});
