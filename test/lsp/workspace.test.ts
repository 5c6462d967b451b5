import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Workspace } from '../../src/lsp/workspace.js';

describe('the workspace', () => {
  it('analyses one version of a document even when an edit updates it in place mid-analysis', async () => {
    const ws = new Workspace();
    const uri = 'file:///tmp/mtc-workspace-race.mt';
    const doc = TextDocument.create(uri, 'mt', 1, 'schedule s { epochs 0 }\n');
    ws.set(doc);
    const pending = ws.analyze(uri);
    // What the language server's document manager does on didChange: the same object, updated.
    TextDocument.update(doc, [{ text: 'schedule s { epochs 3 }\n' }], 2);
    ws.set(doc);
    const first = await pending;
    expect(first?.version).toBe(1);
    expect(first?.diagnostics.length).toBeGreaterThan(0);
    const second = await ws.analyze(uri);
    expect(second?.version).toBe(2);
    expect(second?.diagnostics).toEqual([]);
  });
});
