import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileProgram, loadProgram } from '../../../src/compiler/index.js';
import { MULTITALENT_V1_OUTPUTS } from '../../../src/runtime/import/multitalent-v1.js';

describe("MultiTalent v1's 47 outputs", () => {
  it('are the classes std/datasets/multitalent declares, with their labels and tags, each once', async () => {
    const datasets = [...new Set(MULTITALENT_V1_OUTPUTS.map((o) => o.dataset))];
    const dir = mkdtempSync(join(tmpdir(), 'mtc-mt-'));
    try {
      const file = join(dir, 'all.mt');
      writeFileSync(file, `import "std/datasets/multitalent"\nimport "std/architectures"\nimport "std/schedules"\nexperiment all { datasets [${datasets.join(', ')}]  architecture multitalent_unet  schedule multitalent_pretrain }\n`);
      const { graph, diagnostics } = compileProgram(await loadProgram(file));
      expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const declared = graph!.datasets.flatMap((d) => d.classes.map((c) => ({ dataset: d.name, class: c.name, labels: c.labels, tags: c.tags })));
      expect(MULTITALENT_V1_OUTPUTS).toHaveLength(47);
      expect(declared).toHaveLength(47);
      for (const o of MULTITALENT_V1_OUTPUTS) {
        expect(declared).toContainEqual({ dataset: o.dataset, class: o.class, labels: o.labels, tags: o.tags });
      }
      expect(new Set(MULTITALENT_V1_OUTPUTS.map((o) => `${o.dataset}.${o.class}`)).size).toBe(47);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follow the order of the authors\' region table (their output channels)', () => {
    const keys = MULTITALENT_V1_OUTPUTS.map((o) => o.source);
    expect(keys.slice(0, 9)).toEqual(['03_liver', '03_cancer', '06_lungnodule', '07_pancreas', '07_pancreas_cancer', '08_vessel', '08_tumor', '09_spleen', '10_colon_cancer']);
    expect(keys.slice(9, 22).every((k) => k.startsWith('17_'))).toBe(true);
    expect(keys.slice(22, 30).every((k) => k.startsWith('46_'))).toBe(true);
    expect(keys.slice(30, 36).every((k) => k.startsWith('51_'))).toBe(true);
    expect(keys.slice(36, 40).every((k) => k.startsWith('55_'))).toBe(true);
    expect(keys.slice(40)).toEqual(['62_pancreas', '64_both_kidneys', '64_kidney_tumor', '18_bladder', '18_uterus', '18_rectum', '18_small_bowel']);
  });
});
