import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { compareEvaluations, wilcoxonSignedRank } from '../../../src/runtime/report/compare.js';
import { renderHtmlReport } from '../../../src/runtime/report/html.js';
import { loadRun } from '../../../src/runtime/report/load.js';
import { renderMarkdownReport } from '../../../src/runtime/report/markdown.js';
import { captureIO } from '../../cli/helpers.js';
import { HAS_SCIPY, SCIPY_ONLY_SKIP_REASON, runPython } from '../data/python.js';
import { writeRun } from './fixtures.js';
import { decodePng } from './png-decode.js';

let root = '';
let html = '';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mtc-report-'));
  await writeRun(join(root, 'md'), 'md_finetune', { pseudoDice: true });
  await writeRun(join(root, 'scratch'), 'scratch', { scratch: true, shift: -0.03 });
  html = renderHtmlReport([await loadRun(join(root, 'md')), await loadRun(join(root, 'scratch'))]);
});

describe('the HTML report', () => {
  it('is one self-contained page: inline SVG, no scripts, no network references', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|url\(/i);
    expect(html).not.toMatch(/\ssrc=/);
  });

  it('has loss and LR curves per phase, pseudo-Dice, class tables, box plots, comparisons, the spec and versions', () => {
    // 3 trained stages (pre, md_finetune, scratch) x (loss, lr) + pseudo-Dice of the two stages that recorded it
    expect(html.match(/<svg class="chart line"/g)?.length).toBe(8);
    expect(html).toContain('md_finetune · finetune:md_finetune: training loss');
    expect(html).toContain('phase 1: heads');
    expect(html).toContain('phase 2: all');
    expect(html).toContain('validation pseudo-Dice');
    expect(html.match(/<svg class="chart box"/g)?.length).toBe(2); // datasets liver and kidney
    expect(html.match(/<svg class="chart bars"/g)?.length).toBe(1);
    expect(html).toContain('<td>tumour</td>');
    expect(html).toMatch(/HD95 \(mm\)/);
    expect(html).toContain('∞'); // the tumour's infinite HD95
    expect(html).toContain('graph.yaml: every parameter the run used');
    expect(html).toContain('TensorFlow.js 4.22.0');
    expect(html).toContain('scratch: multi-dataset, from scratch');
    expect(html).toContain('md_finetune: pretrained (trained on 3 datasets, then fine-tuned on 2 datasets)');
  });

  it('paired differences: the mean of per-case differences over cases both runs define', async () => {
    const a = await loadRun(join(root, 'md'));
    const b = await loadRun(join(root, 'scratch'));
    const c = compareEvaluations('a', a.metrics!.evaluations[0], 'b', b.metrics!.evaluations[0]);
    const tumour = c.classes.find((k) => k.name === 'tumour')!;
    expect(tumour.n).toBe(7); // case 7 is undefined in both
    const pa = a.metrics!.evaluations[0].classes[1].perCase;
    const pb = b.metrics!.evaluations[0].classes[1].perCase;
    const diffs = Object.keys(pa).filter((k) => pa[k] !== null).map((k) => pb[k]! - pa[k]!);
    expect(tumour.diff).toBeCloseTo(diffs.reduce((s, d) => s + d, 0) / diffs.length, 12);
    expect(tumour.worse).toBe(diffs.filter((d) => d < 0).length);
  });

  it('a Markdown summary with the same tables', async () => {
    const md = renderMarkdownReport([await loadRun(join(root, 'md')), await loadRun(join(root, 'scratch'))]);
    expect(md).toMatch(/^# mtc report: md_finetune, scratch/);
    expect(md).toContain('| dataset | class | cases (defined) | Dice | HD95 (mm) |');
    expect(md).toContain('## Comparisons (paired, run - baseline)');
  });

  it('mtc report RUN RUN -o FILE writes the page and the .md beside it', async () => {
    const io = captureIO(root);
    expect(await main(['report', 'md', 'scratch', '-o', 'out/cmp.html'], io)).toBe(0);
    expect(io.stdout.join('\n')).toMatch(/mtc report: md_finetune, scratch -> .*cmp\.html \(summary: .*cmp\.md\)/);
    expect(await readFile(join(root, 'out', 'cmp.md'), 'utf8')).toContain('md_finetune');
    const bad = captureIO(root);
    expect(await main(['report', 'nowhere'], bad)).toBe(1);
    expect(bad.stderr.join('\n')).toMatch(/nowhere: is not a run folder/);
  });
});

describe.skipIf(!HAS_SCIPY)(`Wilcoxon signed-rank against scipy${HAS_SCIPY ? '' : ` [SKIPPED: ${SCIPY_ONLY_SKIP_REASON}]`}`, () => {
  it('exact (n <= 20) and normal approximation (n > 20) p-values', () => {
    const small = [0.1, -0.2, 0.3, 0.05, 0.4, -0.01, 0.22, 0.15, -0.07, 0.31, 0.012];
    const large = Array.from({ length: 30 }, (_, i) => Math.sin(i * 1.7) * 0.1 + 0.02);
    const py = `
import json, sys
from scipy.stats import wilcoxon
a, b = json.loads(sys.argv[1])
print(json.dumps([wilcoxon(a, method='exact').pvalue, wilcoxon(b, method='approx').pvalue]))`;
    const [pSmall, pLarge] = JSON.parse(runPython(py, [JSON.stringify([small, large])])) as number[];
    expect(wilcoxonSignedRank(small)).toBeCloseTo(pSmall, 10);
    expect(wilcoxonSignedRank(large)).toBeCloseTo(pLarge, 6);
  });
});

function chromium(): string | null {
  for (const c of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}
const CHROMIUM = chromium();
const CHROMIUM_SKIP = 'headless Chromium not found (apt-get install -y chromium, as .ci/run does)';

describe.skipIf(!CHROMIUM)(`the report in headless Chromium${CHROMIUM ? '' : ` [SKIPPED: ${CHROMIUM_SKIP}]`}`, () => {
  it('renders the plots: the screenshot is not blank and shows every series colour', async () => {
    const page = join(root, 'report.html');
    await writeFile(page, html);
    const shot = join(process.env.MTC_KEEP_SCREENSHOT ?? root, 'shot.png');
    const r = spawnSync(
      CHROMIUM!,
      ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${join(root, 'profile')}`, '--window-size=1280,5200', `--screenshot=${shot}`, `file://${page}`],
      { encoding: 'utf8', timeout: 90_000 },
    );
    expect(existsSync(shot), `chromium failed: ${r.stderr}`).toBe(true);
    const png = decodePng(await readFile(shot));
    expect([png.width, png.height]).toEqual([1280, 5200]);
    const count = (rgb: [number, number, number], tol = 24) => {
      let n = 0;
      for (let i = 0; i < png.rgb.length; i += 3) {
        if (Math.abs(png.rgb[i] - rgb[0]) <= tol && Math.abs(png.rgb[i + 1] - rgb[1]) <= tol && Math.abs(png.rgb[i + 2] - rgb[2]) <= tol) n++;
      }
      return n;
    };
    const white = count([255, 255, 255], 4);
    const total = png.width * png.height;
    expect(white / total).toBeLessThan(0.97); // not blank
    expect(count([31, 119, 180], 12)).toBeGreaterThan(1500); // loss curves, boxes of the first run
    expect(count([148, 103, 189], 12)).toBeGreaterThan(500); // learning-rate curves
    expect(count([44, 160, 44], 12)).toBeGreaterThan(300); // pseudo-Dice and positive differences
    expect(count([214, 39, 40], 12)).toBeGreaterThan(300); // second run's boxes, negative differences
    expect(count([243, 246, 251], 2)).toBeGreaterThan(5000); // phase bands
  }, 120_000);
});
