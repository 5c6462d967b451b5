import type { RuntimeGraph, TrainParams } from '../graph/types.js';
import { unimplementedTransforms } from './train/augment/registry.js';

/**
 * What the language can express but this runtime cannot execute yet. Checked before any stage
 * runs, so an unsupported experiment fails in a second with a way out, not after preprocessing.
 */
export function unsupportedFeatures(graph: RuntimeGraph): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const stage of graph.stages) {
    if (stage.kind !== 'train' && stage.kind !== 'finetune') continue;
    const p: TrainParams = stage;
    const arch = p.architecture;
    const say = (msg: string) => {
      if (!seen.has(msg)) problems.push(msg);
      seen.add(msg);
    };
    if (arch.kind !== 'unet' && arch.kind !== 'resenc_unet') {
      say(`experiment '${p.experiment}': architecture '${arch.name}' is a ${arch.kind}; the runtime trains 'unet' and 'resenc_unet' so far (mtc compile and run --dry-run accept it)`);
    }
    if (p.loss !== 'multitalent') {
      say(`experiment '${p.experiment}': loss '${p.loss}' is not trained by the runtime yet; use loss multitalent`);
    }
    const missing = unimplementedTransforms(p.augmentation);
    if (missing.length > 0) {
      say(
        `experiment '${p.experiment}': augmentation '${p.augmentation?.name}' uses ${missing.join(', ')}, ` +
          `which this runtime does not implement; set its p to 0, or use 'augmentation none'`,
      );
    }
  }
  return problems;
}

export class UnsupportedFeatureError extends Error {
  constructor(
    readonly problems: string[],
    /** Also in the way: missing dataset folders, already formatted (see stages/prepare.ts). */
    readonly missingData: string | null = null,
  ) {
    super(
      `this experiment uses features the runtime cannot execute yet:\n${problems.map((p) => `  - ${p}`).join('\n')}` +
        (missingData ? `\n${missingData}` : ''),
    );
    this.name = 'UnsupportedFeatureError';
  }
}
