import { loadProgramWith, memoryHost, compileProgram, checkProgram, type Diagnostic, type Program } from '../../src/compiler/index.js';

/** Loads an in-memory program whose entry is /mem/main.mt (plus optional other files and stdlib modules). */
export async function programOf(main: string, others: Record<string, string> = {}, stdlib: Record<string, string> = {}): Promise<Program> {
  return loadProgramWith('/mem/main.mt', memoryHost({ '/mem/main.mt': main, ...others }, stdlib));
}

export async function diagnosticsOf(main: string, others: Record<string, string> = {}): Promise<Diagnostic[]> {
  return checkProgram(await programOf(main, others)).diagnostics;
}

export async function compileText(main: string, experiment?: string) {
  const program = await programOf(main);
  return { program, ...compileProgram(program, experiment === undefined ? {} : { experiment }) };
}

export function codes(ds: readonly Diagnostic[]): string[] {
  return ds.map((d) => d.code);
}

/** A small valid program to mutate in tests. */
export const BASE = `
dataset liver {
  root "Dataset001_Liver"
  cases 16
  classes {
    liver        [1, 2]
    liver_tumour [2]  tags [cancer]
  }
}

dataset spleen {
  root "Dataset009_Spleen"
  cases 4
  classes { spleen [1] }
}

architecture small {
  kind     unet
  patch    [32, 32, 32]
  features [8, 16, 32, 64]
}

schedule short {
  epochs     10
  iterations 5
}

experiment demo {
  datasets     [liver, spleen]
  architecture small
  schedule     short
  spacing      [4, 4, 4]
  seed         7
}
`;
