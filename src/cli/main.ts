import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { checkCommand } from './commands/check.js';
import { compileCommand } from './commands/compile.js';
import { explainCommand } from './commands/explain.js';
import { fmtCommand } from './commands/fmt.js';
import { graphCommand } from './commands/graph.js';
import type { BenchOptions } from './commands/bench.js';
import type { InferCommandOptions } from './commands/infer.js';
import type { BenchLoaderOptions } from './commands/bench-loader.js';
import type { VerifyOptions } from './commands/verify.js';
import type { BackendChoice } from '../runtime/backend.js';
import { processIO, UserError, type CliIO } from './io.js';

function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Builds the `mtc` command tree; every action sets `exitCode` instead of exiting. */
export function buildProgram(io: CliIO, setExitCode: (code: number) => void): Command {
  const program = new Command('mtc')
    .description('MultiTalent experiments: check, compile and run .mt files')
    .version(packageVersion())
    .showHelpAfterError('(run `mtc --help` for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  program
    .command('check')
    .description('type-check .mt files and report every problem (exit 1 on errors)')
    .argument('<files...>', '.mt files')
    .addOption(new Option('--format <format>', 'diagnostics format').choices(['text', 'json']).default('text'))
    .action(async (files: string[], opts: { format: 'text' | 'json' }) => setExitCode(await checkCommand(files, opts, io)));

  const experimentOption = (c: Command): Command =>
    c
      .option('-e, --experiment <pattern>', 'experiment, family (all its experiments) or glob, e.g. \'baselines_*_fold0\' (repeatable; default: the last experiment of the file)', collect)
      .option('--all', 'every experiment of the file, family expansions included');

  experimentOption(
    program
      .command('compile')
      .description('print the runtime graph (validated against its JSON Schema), or list the experiments of a file')
      .argument('<file>', '.mt file'),
  )
    .option('--set <path=value>', 'override a field, type-checked like source (repeatable)', collect, [])
    .option('--list', "list the file's experiments (family expansions included) instead")
    .addOption(new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (file: string, opts: { experiment?: string[]; all?: boolean; set: string[]; list?: boolean; format: 'yaml' | 'json' }) =>
      setExitCode(await compileCommand(file, opts, io)),
    );

  experimentOption(program.command('graph').description('print the stage graph').argument('<file>', '.mt file'))
    .option('--set <path=value>', 'override a field (repeatable)', collect, [])
    .addOption(new Option('--format <format>', 'graph format').choices(['mermaid', 'dot']).default('mermaid'))
    .action(async (file: string, opts: { experiment?: string[]; all?: boolean; set: string[]; format: 'mermaid' | 'dot' }) =>
      setExitCode(await graphCommand(file, opts, io)),
    );

  program
    .command('fmt')
    .description('format .mt files canonically (comments kept)')
    .argument('<files...>', '.mt files')
    .option('--check', 'list unformatted files and exit 1 instead of rewriting')
    .action(async (files: string[], opts: { check?: boolean }) => setExitCode(await fmtCommand(files, { check: Boolean(opts.check) }, io)));

  program
    .command('explain')
    .description('explain a diagnostic code, with an example')
    .argument('<code>', 'e.g. MT0305')
    .action(async (code: string) => setExitCode(await explainCommand(code, {}, io)));

  program
    .command('lsp')
    .description('the language server (LSP) for editors: diagnostics, hover, definition, completion, formatting')
    .option('--stdio', 'speak the protocol on stdin/stdout (the only transport; editors pass it)')
    .action(async () => {
      const { lspCommand } = await import('./commands/lsp.js');
      setExitCode(await lspCommand(io));
    });

  program
    .command('import')
    .description('import nnU-Net v2, nnU-Net v1 and MultiTalent checkpoints as an mtc model (read safely: no Python, nothing run)')
    .argument('<paths...>', 'model folders or checkpoint files (several: folds of one model)')
    .requiredOption('-o, --output <dir>', 'the model folder to write (must not exist or be empty)')
    .addOption(new Option('--checkpoint <which>', 'which checkpoint of a model folder').choices(['final', 'best']).default('final'))
    .action(async (paths: string[], opts: { output: string; checkpoint: 'final' | 'best' }) => {
      const { importCommand } = await import('./commands/import.js');
      setExitCode(await importCommand(paths, { ...opts, version: packageVersion() }, io));
    });

  program
    .command('synth')
    .description('write the synthetic CT collection (nnU-Net raw format) into DIR')
    .argument('<dir>', 'output folder')
    .option('--seed <n>', 'random seed', intArg, 2026)
    .option('--generator <name>', 'synthetic collection', 'quickstart')
    .action(async (dir: string, opts: { seed: number; generator: string }) => {
      const { synthCommand } = await import('./commands/synth.js');
      setExitCode(await synthCommand(dir, opts, io));
    });

  experimentOption(
    program
      .command('run')
      .description('compile and execute experiments: data, preprocessing, training, fine-tuning, evaluation; finished stages are reused from the store')
      .argument('[file]', '.mt file'),
  )
    .option('--set <path=value>', 'override a field, type-checked like source (repeatable)', collect, [])
    .option('--data <dir>', 'data root for dataset folders (default: $MT_DATA or ./data)')
    .option('--runs <dir>', 'where run folders and the stage store (<runs>/.store) live', 'runs')
    .option('--cache <dir>', 'preprocessing cache (default: <data root>/.mtc-cache)')
    .option('--no-cache', 'preprocess without reading or writing the cache')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'cpu', 'wasm', 'tensorflow', 'webgpu']).default('auto'))
    .option('--jobs <n>', 'independent stages run at the same time', positiveInt, 1)
    .option('--force <pattern>', 'run stages matching the pattern even when cached, e.g. \'evaluate:*\' (repeatable)', collect)
    .option('--only <pattern>', 'run only the stages matching the pattern; the others must be cached (repeatable)', collect)
    .option('--explain-cache', 'say, for every stage that is not cached, which field changed since its last run')
    .option('--no-tui', 'plain progress lines instead of the terminal UI')
    .option('--json', 'one JSON event per line on stdout')
    .option('--allow-outside-data-root', 'let a synthetic dataset whose `root` lies outside the data root be synthesised there (docs/trust.md)')
    .option('--dry-run', 'show what would run and what is cached, with each stage\'s key parameters, and stop (exit 1 when the run could not start)')
    .option('--stage <id>', 'run one stage of an existing run folder (with --run; its inputs must be in the store)')
    .option('--run <dir>', 'the run folder for --stage')
    .addOption(new Option('--force-stage', 'with --stage: run it even when it is in the store').hideHelp())
    .addOption(new Option('--executor <name>', 'where stages run: here, or as Slurm jobs (docs/cluster.md)').choices(['local', 'slurm']).default('local'))
    .option('--partition <p>', 'slurm: the partition (checked with sinfo)')
    .option('--time <limit>', 'slurm: time limit per job (HH:MM:SS); a training checkpoints and requeues itself before it')
    .option('--signal-lead <seconds>', 'slurm: seconds before the time limit at which a job checkpoints and requeues itself (default 120)', positiveInt)
    .option('--gres <gres>', 'slurm: generic resources per job, e.g. gpu:1')
    .option('--cpus-per-task <n>', 'slurm: cores per job', positiveInt)
    .option('--mem <m>', 'slurm: memory per job, e.g. 32G')
    .option('--account <a>', 'slurm: the account to charge')
    .option('--sbatch-arg <arg>', 'slurm: a further sbatch option, e.g. --qos=long (repeatable)', collect)
    .option('--detach', 'slurm: return right after submitting (mtc status follows the jobs)')
    .action(
      async (
        file: string | undefined,
        opts: {
          experiment?: string[]; all?: boolean; set: string[]; data?: string; runs: string; cache?: string | false; backend: BackendChoice; tui: boolean; json?: boolean; dryRun?: boolean;
          jobs: number; force?: string[]; only?: string[]; explainCache?: boolean; stage?: string; run?: string; forceStage?: boolean; allowOutsideDataRoot?: boolean;
          executor?: 'local' | 'slurm'; partition?: string; time?: string; signalLead?: number; gres?: string; cpusPerTask?: number; mem?: string;
          account?: string; sbatchArg?: string[]; detach?: boolean;
        },
      ) => {
        // Imported on use: the runtime loads TensorFlow.js, which costs a second that check/compile need not pay.
        const { runCommand } = await import('./commands/run.js');
        const { partition, time, signalLead, gres, cpusPerTask, mem, account } = opts;
        const sbatch = { partition, time, signalSeconds: signalLead, gres, cpusPerTask, mem, account };
        setExitCode(await runCommand(file, { ...opts, sbatch, json: Boolean(opts.json), dryRun: Boolean(opts.dryRun) }, io));
      },
    );

  program
    .command('infer')
    .description('segment CT scans with a trained model: one binary mask per class, optionally a label map in a dataset protocol')
    .argument('<model>', 'a run folder, a checkpoint folder (model.json, plans.json) or a model package (mtc export)')
    .requiredOption('-i, --input <path>', 'a NIfTI file, or a folder of them (CASE_0000.nii.gz or CASE.nii.gz)')
    .requiredOption('-o, --output <dir>', 'output folder')
    .option('--model <name>', 'run folders: the experiment whose model to use (default: the main one)')
    .option('--classes <list>', 'only these classes (comma-separated; class or dataset.class)')
    .option('--protocol <dataset>', "also write a label map CASE.nii.gz in that dataset's protocol (later classes overwrite earlier ones)")
    .option('--tta', 'test-time mirroring over all axes (default)', true)
    .option('--no-tta', 'no test-time mirroring (8x faster)')
    .option('--step <fraction>', 'sliding-window step as a fraction of the patch (default 0.5)')
    .option('--folds <list>', "folds to average, e.g. 0,1,2 (default: all the model has)")
    .option('--statistics', 'write statistics.json: volume (mm3) and mean HU per class')
    .option('--preview', 'write preview.png: a few slices with the segmentation overlaid')
    .option('--memory <size>', 'memory budget for the prediction, e.g. 8G (default: half the machine\'s memory)')
    .option('--no-ct-check', 'do not refuse images that do not look like CT in Hounsfield units')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'cpu', 'wasm', 'tensorflow', 'webgpu']).default('auto'))
    .option('--no-tui', 'plain progress lines instead of the terminal UI')
    .option('--json', 'one JSON event per line on stdout')
    .action(async (model: string, opts: InferCommandOptions) => {
      const { inferCommand } = await import('./commands/infer.js');
      setExitCode(await inferCommand(model, opts, io));
    });

  program
    .command('export')
    .description('write a trained model as one self-contained package file (weights, classes, preprocessing, resolved spec, versions)')
    .argument('<run>', 'a run folder, a checkpoint folder or a folder of folds')
    .requiredOption('-o, --output <file>', 'package file, e.g. quickstart.mtpkg')
    .option('--model <name>', 'run folders: the experiment whose model to export (default: the main one)')
    .option('--folds <list>', 'folds to include (default: all)')
    .action(async (run: string, opts: { output: string; model?: string; folds?: string }) => {
      const { exportCommand } = await import('./commands/export.js');
      setExitCode(await exportCommand(run, opts, io));
    });

  program
    .command('eval')
    .description('Dice and HD95 of predicted label maps against references, per case and class, with summaries')
    .argument('<pred_dir>', 'predicted label maps (CASE.nii.gz), or fold_*/ folders of them (cross-validation)')
    .argument('<gt_dir>', 'reference label maps (CASE.nii.gz), e.g. labelsTr/')
    .option('--dataset <dir>', 'dataset folder whose dataset.json defines the classes (default: the folder above GT_DIR)')
    .option('--group <name=classes>', 'a class group to summarise, e.g. cancer=tumour (repeatable)', collect, [])
    .option('--no-hd95', 'Dice only')
    .option('--json', 'machine-readable output (NaN as null, infinity as "Infinity")')
    .action(async (pred: string, gt: string, opts: { dataset?: string; json?: boolean; hd95: boolean; group: string[] }) => {
      const { evalCommand } = await import('./commands/eval.js');
      setExitCode(await evalCommand(pred, gt, opts, io));
    });

  program
    .command('report')
    .description('an HTML report (SVG plots, self-contained) and a Markdown summary of run folders; several runs are compared with the first')
    .argument('<runs...>', 'run folders')
    .option('-o, --output <file>', 'HTML file (default: report.html in the first run folder); the .md goes next to it')
    .action(async (runs: string[], opts: { output?: string }) => {
      const { reportCommand } = await import('./commands/report.js');
      setExitCode(await reportCommand(runs, opts, io));
    });

  program
    .command('status')
    .description("each stage's state (done, cached, interrupted, failed, pending), key and metrics of runs")
    .argument('[run]', 'a run folder, or an experiment name (its latest run); default: every run')
    .option('--runs <dir>', 'where run folders live', 'runs')
    .option('--json', 'machine-readable, with weights_sha256 for each trained stage')
    .action(async (run: string | undefined, opts: { runs: string; json?: boolean }) => {
      const { statusCommand } = await import('./commands/status.js');
      setExitCode(await statusCommand(run, opts, io));
    });

  program
    .command('ls')
    .description('list the runs: experiment, run key, state, last change, mean Dice')
    .option('--runs <dir>', 'where run folders live', 'runs')
    .option('--json', 'machine-readable')
    .action(async (opts: { runs: string; json?: boolean }) => {
      const { lsCommand } = await import('./commands/status.js');
      setExitCode(await lsCommand(opts, io));
    });

  const data = program.command('data').description('inspect NIfTI files and check nnU-Net raw datasets');
  data
    .command('inspect')
    .description("print a NIfTI file's shape, datatype, spacing, affine (as nibabel reports it), orientation code and intensity range")
    .argument('<file>', '.nii or .nii.gz file')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { dataInspectCommand } = await import('./commands/data.js');
      setExitCode(await dataInspectCommand(file, opts, io));
    });
  data
    .command('check')
    .description('validate an nnU-Net raw dataset and report every problem (exit 1 when there is any)')
    .argument('<dir>', 'dataset folder, e.g. data/Dataset001_Liver')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const { dataCheckCommand } = await import('./commands/data.js');
      setExitCode(await dataCheckCommand(dir, opts, io));
    });
  data
    .command('fingerprint')
    .description('dataset fingerprint: spacings, shapes, foreground intensity statistics, label voxel counts (cached)')
    .argument('<dir>', 'dataset folder')
    .option('--cache <dir>', 'cache folder (default: <dataset parent>/.mtc-cache)')
    .option('--no-cache', 'neither read nor write the cache')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, opts: { json?: boolean; cache?: string | false }) => {
      const { dataFingerprintCommand } = await import('./commands/data.js');
      setExitCode(await dataFingerprintCommand(dir, opts, io));
    });

  const bench = program
    .command('bench')
    .description('speed benchmarks; without a subcommand, the standard suite (conv3d and U-Net steps) against PyTorch as a markdown table')
    .addOption(new Option('--isa <build>', "native kernels' instruction set (PyTorch is capped to the same)").choices(['avx512', 'avx2', 'generic']))
    .action(async (opts: { isa?: string }) => {
      const { benchSuite } = await import('./commands/bench.js');
      setExitCode(await benchSuite({ compare: true, isa: opts.isa }, io));
    });
  const benchOptions = (c: Command): Command =>
    c
      .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'cpu', 'wasm', 'tensorflow', 'webgpu']).default('cpu'))
      .option('--json', 'one JSON object per result (name, backend, ms, gflops)')
      .option('--compare', 'also run bench/pytorch_reference.py when /usr/bin/python3 has torch, and print the ratio')
      .option('--repeats <n>', 'timed repetitions per round (default 5)')
      .option('--rounds <n>', 'interleaved tfjs/PyTorch rounds, medians reported (default 1, 3 with --compare)')
      .addOption(new Option('--isa <build>', "native kernels' instruction set (default: the best this CPU runs; PyTorch is capped to the same)").choices(['avx512', 'avx2', 'generic']));
  benchOptions(
    bench
      .command('conv3d')
      .description('one 3D convolution: forward + input gradient + filter gradient (median ms)')
      .requiredOption('--shape <B,D,H,W,C>', 'input shape (NDHWC)')
      .requiredOption('--filters <n>', 'output channels')
      .option('--kernel <n>', 'kernel size', '3')
      .option('--stride <n>', 'stride', '1'),
  ).action(async (opts: BenchOptions) => {
    const { benchCommand } = await import('./commands/bench.js');
    setExitCode(await benchCommand('conv3d', { ...bench.opts(), ...opts }, io));
  });
  benchOptions(
    bench
      .command('step')
      .description("one training step of the project's network: forward, MultiTalent loss, backward, SGD (median ms)")
      .option('--arch <name>', 'architecture (unet or resenc_unet)', 'unet')
      .option('--blocks <list>', "resenc_unet: residual blocks per encoder stage (default MultiTalent's plan 1,2,3,4,4,4)")
      .option('--patch <D,H,W>', 'patch size', '32,32,32')
      .option('--batch <n>', 'batch size', '2')
      .requiredOption('--classes <n>', 'output heads')
      .option('--features <list>', 'features per stage', '16,32,64,128'),
  ).action(async (opts: BenchOptions) => {
    const { benchCommand } = await import('./commands/bench.js');
    setExitCode(await benchCommand('step', { ...bench.opts(), ...opts }, io));
  });
  bench
    .command('loader')
    .description('augmented training batches per second: case sampling, patches, augmentation, targets, in worker threads')
    .option('--patch <D,H,W>', 'patch size', '32,32,32')
    .option('--batch <n>', 'batch size', '2')
    .option('--workers <n>', 'loader worker threads (0: the main thread; default one per spare core, at most 8)')
    .option('--batches <n>', 'timed batches', '20')
    .addOption(new Option('--augmentation <profile>', "nnU-Net's profile or none").choices(['nnunet', 'none']).default('nnunet'))
    .option('--case <D,H,W>', 'shape of the synthetic cases (default 1.5x the patch)')
    .option('--cases <n>', 'distinct synthetic cases', '2')
    .option('--json', 'one JSON object')
    .action(async (opts: BenchLoaderOptions) => {
      const { benchLoaderCommand } = await import('./commands/bench-loader.js');
      setExitCode(await benchLoaderCommand(opts, io));
    });
  bench
    .command('verify')
    .description("checks a backend's conv kernels and a training step's loss and every gradient against the cpu backend")
    .addOption(new Option('--backend <name>', 'backend to check').choices(['webgpu', 'wasm', 'tensorflow']).default('webgpu'))
    .option('--large', 'also network-sized convolutions (for a real GPU)')
    .option('--step-patch <D,H,W|none>', 'patch of the compared training step', '16,32,32')
    .option('--step-features <list>', 'features per stage of that step', '8,16,32')
    .option('--step-batch <n>', 'batch of that step', '2')
    .option('--step-arch <name>', 'architecture of that step (unet or resenc_unet)', 'unet')
    .option('--tolerance <x>', 'largest error, relative to the largest value', '1e-4')
    .option('--json', 'one JSON object per comparison')
    .action(async (opts: VerifyOptions) => {
      const { verifyCommand } = await import('./commands/verify.js');
      setExitCode(await verifyCommand(opts, io));
    });
  bench
    .command('infer')
    .description("inference time per case (the sliding window of mtc infer) for the quickstart model and the paper's U-Net, against PyTorch; one multi-dataset model against an ensemble")
    .option('--case <name>', 'quickstart, paper, ensemble or all', 'all')
    .option('--volume <D,H,W>', 'synthetic volume in voxels', '200,512,512')
    .option('--tiles <n>', "tiles timed for the paper's U-Net (the case is extrapolated)", '2')
    .option('--quickstart-tiles <n>', 'tiles timed for the quickstart model (default: all)')
    .option('--mirror', 'test-time mirroring (8 passes per tile)')
    .option('--compare', 'the same sliding window in PyTorch (bench/pytorch_reference.py infer)')
    .option('--json', 'one JSON object per result')
    .action(async (opts: import('./commands/bench-infer.js').BenchInferOptions) => {
      const { benchInferCommand } = await import('./commands/bench-infer.js');
      setExitCode(await benchInferCommand(opts, io));
    });
  benchOptions(bench.command('suite').description('the standard suite (as `mtc bench`), with these options')).action(
    async (opts: BenchOptions) => {
      const { benchSuite } = await import('./commands/bench.js');
      setExitCode(await benchSuite({ compare: true, ...bench.opts(), ...opts }, io));
    },
  );

  return program;
}

function isCommanderExit(err: unknown): err is { exitCode: number; code: string } {
  return typeof err === 'object' && err !== null && 'code' in err && String((err as { code: unknown }).code).startsWith('commander.');
}

/** Runs `mtc` with the given argv (without node and script); returns the exit code. Never throws. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (c) => {
    exitCode = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (isCommanderExit(err)) return err.exitCode;
    if (err instanceof UserError) {
      io.err(`mtc: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof Error && ['MtDataError', 'GraphValidationError', 'UnsupportedFeatureError', 'MemoryBudgetError', 'StageInterrupted'].includes(err.name)) {
      io.err(`mtc: ${err.message}`);
      return 1;
    }
    const detail = err instanceof Error ? err.message : String(err);
    io.err(`mtc: internal error: ${detail}\n(set MTC_DEBUG=1 for the stack trace, and please report it)`);
    if (io.env.MTC_DEBUG && err instanceof Error && err.stack) io.err(err.stack);
    return 70;
  }
}
