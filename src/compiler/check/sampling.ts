/** `sampling NAME { kind inverse_sqrt  foreground 0.33 }`: a named case-sampling policy. */
import type { SamplingKind } from '../../graph/types.js';
import type { Block, Declaration } from '../ast.js';
import type { DiagnosticSink } from '../diagnostics.js';
import { Fields } from './fields.js';
import type { SamplingModel } from './model.js';
import { ValueReader } from './values.js';

export const SAMPLING_KINDS: readonly SamplingKind[] = ['inverse_sqrt', 'uniform', 'proportional'];
/** nnU-Net's foreground oversampling. */
export const DEFAULT_FOREGROUND = 0.33;

export function checkSampling(sink: DiagnosticSink, decl: Declaration, name: string, body: Block | null = decl.body): SamplingModel | undefined {
  const owner = `sampling '${name}'`;
  const r = new ValueReader(sink);
  const f = new Fields(sink, owner, decl.name?.span ?? decl.kind.span, 'sampling', body);
  const kindV = f.required('kind', 'kind inverse_sqrt');
  const kind = kindV ? r.option(kindV, 'sampling', SAMPLING_KINDS) : undefined;
  const fgV = f.value('foreground', 'foreground 0.33');
  const fg = fgV ? r.fraction(fgV, "'foreground'", 'the fraction of each batch forced to contain foreground (nnU-Net: 0.33)') : DEFAULT_FOREGROUND;
  if (kind === undefined || fg === undefined) return undefined;
  return { name, kind, foregroundFraction: fg };
}
