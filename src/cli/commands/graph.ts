import { renderGraph, type GraphFormat } from '../../compiler/index.js';
import type { CliIO } from '../io.js';
import { compileFile } from './compile.js';

export interface GraphOptions {
  experiment?: string | string[];
  all?: boolean;
  set?: string[];
  format: GraphFormat;
}

/** `mtc graph FILE [-e PATTERN]… [--all] [--format mermaid|dot]`: the stage graph of the compiled experiments. */
export async function graphCommand(file: string, options: GraphOptions, io: CliIO): Promise<number> {
  const { graph } = await compileFile(file, { experiment: options.experiment, all: options.all, set: options.set }, io);
  io.out(renderGraph(graph, options.format));
  return 0;
}
