/**
 * How a stage process is started: `node STAGE_NODE_FLAGS bin/mtc.js run --stage ID --run DIR`, by
 * the local executor's launcher (src/cli/commands/run.ts) and by the Slurm executor's job script.
 *
 * `--initial-old-space-size`: V8 sizes a process's old generation from its first, small heap
 * (about 24 MB live in a training), and then starts a full collection whenever the room left
 * under that limit falls below the young generation's size: about once per training step, with
 * concurrent marking taking a core from the kernel threads on a 2-core machine (8-14 % of a
 * quickstart fine-tune's CPU samples in V8's marker). A floor of 256 MB halves those collections;
 * the rest are started by external memory (tensor buffers). Measured: the quickstart network's step
 * 110 -> 97 ms (median of 6 interleaved pairs on a 2-vCPU AMD EPYC Zen 3); peak RSS unchanged (700 MB).
 */
export const STAGE_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=256'];
