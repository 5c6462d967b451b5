import type { RuntimeGraph, TrainParams } from '../graph/types.js';

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
    if (stage.kind === 'train' && p.checkpoint) {
      say(`experiment '${p.experiment}': pretrained "${p.checkpoint}" (a checkpoint file) is not loaded by the runtime yet; pre-train with an experiment and write pretrained EXPERIMENT`);
    }
    if (p.loss !== 'multitalent') {
      say(`experiment '${p.experiment}': loss '${p.loss}' is not trained by the runtime yet; use loss multitalent`);
    }
    const unsupported = (p.augmentation?.transforms ?? []).filter((t) => t.kind !== 'mirror' && t.p > 0).map((t) => t.kind);
    if (unsupported.length > 0) {
      say(
        `experiment '${p.experiment}': augmentation '${p.augmentation?.name}' uses ${[...new Set(unsupported)].join(', ')}, ` +
          `which the runtime does not apply yet (only mirror); use an augmentation profile with mirror only, or 'augmentation none'`,
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
