/** The checked program: declarations turned into typed models, ready for lowering. */
import type { ArchitectureSpec, DatasetSpec, SamplingKind, ScheduleSpec, Vec3 } from '../../graph/types.js';
import type { Declaration } from '../ast.js';
import type { Span } from '../source.js';

export type DeclKind = 'dataset' | 'architecture' | 'schedule' | 'experiment';

export interface Symbol {
  kind: DeclKind;
  name: string;
  file: string;
  decl: Declaration;
}

export interface DatasetModel {
  spec: DatasetSpec;
  /** Expected number of training cases (`cases N`), used for the sampling shares shown in the graph. */
  cases: number | null;
}

export interface ExperimentModel {
  name: string;
  file: string;
  span: Span;
  datasets: string[];
  /** Null when absent (a fine-tune experiment inherits it). */
  architecture: string | null;
  architectureSpan: Span | null;
  batch: number;
  sampling: { kind: SamplingKind; foregroundFraction: number };
  schedule: string | null;
  spacing: Vec3 | null;
  spacingSpan: Span | null;
  seed: number | null;
  pretrained: string | null;
  pretrainedSpan: Span | null;
}

export interface CheckedProgram {
  symbols: Map<string, Symbol>;
  datasets: Map<string, DatasetModel>;
  architectures: Map<string, ArchitectureSpec>;
  schedules: Map<string, ScheduleSpec>;
  experiments: Map<string, ExperimentModel>;
}
