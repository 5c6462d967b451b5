/**
 * Imports are untrusted input: only `.mt` files are read, and no diagnostic ever quotes another file.
 * Removing the MT0007 rule in src/compiler/loader.ts makes these fail (the secret's line is echoed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../src/cli/commands/check.js';
import { checkProgram, loadProgramWith, memoryHost, type LoaderHost } from '../../src/compiler/index.js';
import { captureIO } from '../cli/helpers.js';

const SECRET = 'secret-token-4f1c9a = 1';

/** A memory host that records every path it is asked to read. */
function recordingHost(files: Record<string, string>): { host: LoaderHost; reads: string[] } {
  const inner = memoryHost(files);
  const reads: string[] = [];
  return { reads, host: { ...inner, readFile: (p) => (reads.push(p), inner.readFile(p)) } };
}

describe('imports name .mt files only', () => {
  for (const spec of ['/etc/secret.txt', './secret.txt', '../keys/id_rsa.pub', './secret.json']) {
    it(`import "${spec}" is refused before it is read (MT0007)`, async () => {
      const { host, reads } = recordingHost({ '/mem/main.mt': `import "${spec}"\n`, '/etc/secret.txt': SECRET, '/mem/secret.txt': SECRET, '/keys/id_rsa.pub': SECRET, '/mem/secret.json': SECRET });
      const program = await loadProgramWith('/mem/main.mt', host);
      expect(reads).toEqual(['/mem/main.mt']);
      const d = checkProgram(program).diagnostics;
      expect(d.map((x) => x.code)).toEqual(['MT0007']);
      expect(d[0].message).toBe(`cannot import '${spec}': only .mt files can be imported`);
      expect(d[0].span.file).toBe('/mem/main.mt');
      expect(JSON.stringify(d)).not.toContain('secret-token');
    });
  }

  it('a name without an extension means NAME.mt: the file NAME itself is never read', async () => {
    const { host, reads } = recordingHost({ '/mem/main.mt': 'import "./notes"\n', '/mem/notes': SECRET });
    const program = await loadProgramWith('/mem/main.mt', host);
    expect(reads).toEqual(['/mem/main.mt', '/mem/notes.mt']);
    const d = checkProgram(program).diagnostics;
    expect(d.map((x) => x.code)).toEqual(['MT0002']);
    expect(d[0].message).toContain('looked for /mem/notes.mt');
  });

  it('a name without an extension still finds NAME.mt', async () => {
    const { host } = recordingHost({ '/mem/main.mt': 'import "./shared"\n', '/mem/shared.mt': 'schedule s { epochs 1 }\n' });
    const program = await loadProgramWith('/mem/main.mt', host);
    expect(program.diagnostics).toEqual([]);
    expect([...program.files.keys()]).toContain('/mem/shared.mt');
  });
});

describe('mtc check never prints a non-.mt file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-trust-imports-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('import of a real text file on disk: refused, its contents appear nowhere', async () => {
    writeFileSync(join(dir, 'secret.txt'), `${SECRET}\nsecond-line-token\n`);
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
    writeFileSync(join(dir, 'main.mt'), `import "${join(dir, 'secret.txt')}"\nimport "./secret"\n`);
    const io = captureIO(dir);
    const code = await checkCommand(['main.mt'], { format: 'text' }, io).catch(() => 1);
    const all = [...io.stdout, ...io.stderr].join('\n');
    expect(code).not.toBe(0);
    expect(all).toContain('MT0007');
    expect(all).not.toContain('secret-token');
    expect(all).not.toContain('second-line-token');
  });
});
