import { join, relative, resolve } from 'node:path';
import type { RuntimeGraph } from '../../graph/types.js';
import { initRuntime, type BackendChoice } from '../../runtime/setup.js';
import { RunEvents } from '../../runtime/events.js';
import { assertExecutable, runGraph } from '../../runtime/executor.js';
import { assertInputsUsable, unsupportedFeatures } from '../../runtime/preflight.js';
import { writeFileAtomic } from '../../runtime/io/atomic.js';
import { attachJsonRenderer, attachPlainRenderer } from '../../ui/plain.js';
import { UserError, type CliIO } from '../io.js';
import { compileFile } from './compile.js';

export interface RunCommandOptions {
  experiment?: string;
  /** `--set PATH=VALUE` overrides. */
  set?: string[];
  data?: string;
  runs: string;
  /** Preprocessing cache folder; false disables it; undefined means `<data root>/.mtc-cache`. */
  cache?: string | false;
  backend: BackendChoice;
  tui: boolean;
  json: boolean;
  dryRun: boolean;
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function planLines(graph: RuntimeGraph): string[] {
  return graph.stages.map((s, i) => `${String(i + 1).padStart(2)}. ${s.id.padEnd(28)} ${s.deps.length ? `after ${s.deps.join(', ')}` : ''}`.trimEnd());
}

/** `mtc run FILE`: compile, then execute the graph with the Ink screen or plain/JSON lines. */
export async function runCommand(file: string, options: RunCommandOptions, io: CliIO): Promise<number> {
  const { graph, sources } = await compileFile(file, { experiment: options.experiment, set: options.set }, io);
  if (options.dryRun) {
    io.out(`plan for experiment '${graph.source.experiment}' (${graph.stages.length} stages):`);
    for (const l of planLines(graph)) io.out(l);
    const unsupported = unsupportedFeatures(graph);
    if (unsupported.length > 0) {
      io.out('note: the runtime cannot execute this plan yet:');
      for (const u of unsupported) io.out(`  - ${u}`);
    }
    return 0;
  }
  const dataRoot = resolve(io.cwd, options.data ?? io.env.MT_DATA ?? 'data');
  assertExecutable(graph, dataRoot); // before anything is written
  await assertInputsUsable(graph, dataRoot);
  const runDir = resolve(io.cwd, options.runs, `${graph.source.experiment}-${timestamp()}`);
  for (const [path, text] of sources) {
    const rel = relative(io.cwd, path);
    const name = rel.startsWith('..') ? path.replace(/^.*[\\/]/, '') : rel;
    await writeFileAtomic(join(runDir, 'spec', name), text);
  }

  const runtime = await initRuntime(options.backend);
  const events = new RunEvents();
  let detach: () => Promise<void> | void;
  if (options.json) {
    detach = attachJsonRenderer(events, io.out);
  } else if (options.tui && io.isTTY) {
    const { attachInkRenderer } = await import('../../ui/ink/render.js');
    detach = attachInkRenderer(events);
  } else {
    detach = attachPlainRenderer(events, { write: io.out });
  }
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const cacheDir = options.cache === false ? null : options.cache === undefined ? undefined : resolve(io.cwd, options.cache);
    const outcome = await runGraph(graph, { dataRoot, runDir, cacheDir, backend: runtime.description, events, signal: abort.signal });
    await detach();
    if (outcome.status === 'failed') {
      const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error ?? 'interrupted');
      throw new UserError(`run failed: ${reason}\n(run folder: ${runDir})`);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
