import { resolve } from 'node:path';
import { RunEvents } from '../../runtime/events.js';
import { loadInferenceModel } from '../../runtime/infer/model-source.js';
import { inferCases, listInferInputs } from '../../runtime/infer/predictor.js';
import { initRuntime, type BackendChoice } from '../../runtime/setup.js';
import { attachJsonRenderer, attachPlainRenderer } from '../../ui/plain.js';
import { attachScreen } from '../../ui/screen/host.js';
import { UserError, type CliIO } from '../io.js';

export interface InferCommandOptions {
  input: string;
  output: string;
  model?: string;
  classes?: string;
  tta: boolean;
  step?: string;
  folds?: string;
  protocol?: string;
  statistics?: boolean;
  preview?: boolean;
  memory?: string;
  ctCheck: boolean;
  backend: BackendChoice;
  tui: boolean;
  json?: boolean;
}

/** "8G", "512M", "1.5GiB", "2000000000" -> bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new UserError(`--memory: '${text}' is not a size (examples: 8G, 512M, 2GiB, 4000000000)`);
  const scale: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const n = Math.floor(Number(m[1]) * scale[m[2].toLowerCase()]);
  if (!(n > 0)) throw new UserError(`--memory: '${text}' must be positive`);
  return n;
}

export function parseFolds(text: string | undefined): number[] | undefined {
  if (text === undefined || text === 'all') return undefined;
  const folds = text.split(',').map((s) => s.trim());
  if (folds.some((f) => !/^\d+$/.test(f))) throw new UserError(`--folds: '${text}' must be 'all' or fold numbers such as 0,1,2`);
  return folds.map(Number);
}

function parseStep(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!(v > 0 && v <= 1)) throw new UserError(`--step: '${text}' must be a fraction of the patch in (0, 1] (nnU-Net: 0.5)`);
  return v;
}

/** `mtc infer MODEL -i INPUT -o OUT`: segment new CT scans with a trained model. */
export async function inferCommand(modelPath: string, options: InferCommandOptions, io: CliIO): Promise<number> {
  const step = parseStep(options.step);
  const folds = parseFolds(options.folds);
  const memoryBytes = options.memory ? parseBytes(options.memory) : undefined;
  const classes = options.classes ? options.classes.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const model = await loadInferenceModel(resolve(io.cwd, modelPath), { model: options.model, folds });
  const inputs = await listInferInputs(resolve(io.cwd, options.input));
  const outDir = resolve(io.cwd, options.output);
  const runtime = await initRuntime(options.backend);
  const events = new RunEvents();
  let detach: () => Promise<void> | void;
  if (options.json) detach = attachJsonRenderer(events, io.out);
  else if (options.tui && io.isTTY) detach = attachScreen(events, { write: io.out, warn: io.err });
  else detach = attachPlainRenderer(events, { write: io.out });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    await inferCases(model, inputs, outDir, {
      classes,
      protocol: options.protocol ?? null,
      mirror: options.tta,
      stepFraction: step,
      statistics: Boolean(options.statistics),
      preview: Boolean(options.preview),
      ctCheck: options.ctCheck,
      memoryBytes,
      events,
      signal: abort.signal,
      backend: runtime.description,
    });
  } catch (e) {
    if (abort.signal.aborted) throw new UserError('interrupted: the cases finished so far are complete; the case in progress left nothing behind', 130);
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await detach();
  }
  return 0;
}
