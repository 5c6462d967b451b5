/**
 * The sbatch script of a job: one stage, or a job array whose task i runs stage i of a list. The
 * job runs the stage exactly as the local executor's child processes do (`mtc run --stage ID --run
 * DIR`), its events appended to `<run>/slurm/<stage>.events.jsonl` and its stderr to
 * `<run>/slurm/<stage>.log`. Near the time limit Slurm sends the batch shell USR1 (`--signal`);
 * the script passes it on as SIGINT (mtc's Ctrl-C: finish the iteration, write `latest`, exit 130)
 * and requeues the job, which then resumes from that checkpoint.
 */
import { stageSlug } from '../plan.js';

export interface SbatchOptions {
  partition?: string;
  /** Time limit, as sbatch takes it (`HH:MM:SS`, `D-HH:MM`, minutes). */
  time?: string;
  gres?: string;
  cpusPerTask?: number;
  mem?: string;
  account?: string;
  /** Further sbatch options, passed as given (`--qos=long`, `--constraint=a100`). */
  sbatchArgs?: readonly string[];
  /** Seconds before the time limit at which the job checkpoints and requeues itself (default 120). */
  signalSeconds?: number;
}

export interface JobTask {
  stage: string;
  runDir: string;
}

export interface ScriptSpec {
  name: string;
  tasks: readonly JobTask[];
  /** Where Slurm writes the batch shell's own output. */
  logDir: string;
  /** The command that runs mtc on a compute node (node and bin/mtc.js, absolute paths on the shared filesystem). */
  mtc: readonly string[];
  backend: string;
  sbatch: SbatchOptions;
}

export const DEFAULT_SIGNAL_SECONDS = 120;

/** A word for bash, single-quoted. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `#SBATCH` options of the resources a user asked for. */
export function resourceOptions(o: SbatchOptions): string[] {
  return [
    ...(o.partition ? [`--partition=${o.partition}`] : []),
    ...(o.time ? [`--time=${o.time}`] : []),
    ...(o.gres ? [`--gres=${o.gres}`] : []),
    ...(o.cpusPerTask ? [`--cpus-per-task=${o.cpusPerTask}`] : []),
    ...(o.mem ? [`--mem=${o.mem}`] : []),
    ...(o.account ? [`--account=${o.account}`] : []),
    ...(o.sbatchArgs ?? []),
  ];
}

export function batchScript(spec: ScriptSpec): string {
  const array = spec.tasks.length > 1;
  const out = array ? `${spec.logDir}/%x-%A_%a.out` : `${spec.logDir}/%x-%j.out`;
  const opts = [
    `--job-name=${spec.name}`,
    `--output=${out}`,
    '--open-mode=append',
    '--requeue',
    `--signal=B:USR1@${spec.sbatch.signalSeconds ?? DEFAULT_SIGNAL_SECONDS}`,
    // A job whose dependency failed is ended by Slurm at once (Reason=DependencyNeverSatisfied), not left pending.
    '--kill-on-invalid-dep=yes',
    ...(array ? [`--array=0-${spec.tasks.length - 1}`] : []),
    ...resourceOptions(spec.sbatch),
  ];
  const list = (xs: string[]) => `(\n${xs.map((x) => `  ${shellQuote(x)}`).join('\n')}\n)`;
  return `#!/bin/bash
# Written by mtc run --executor slurm: ${spec.tasks.length === 1 ? `stage ${spec.tasks[0].stage}` : `${spec.tasks.length} stages, one per array task`}.
${opts.map((o) => `#SBATCH ${shellQuote(o)}`).join('\n')}
set -u
STAGES=${list(spec.tasks.map((t) => t.stage))}
RUNS=${list(spec.tasks.map((t) => t.runDir))}
SLUGS=${list(spec.tasks.map((t) => stageSlug(t.stage)))}
i=\${SLURM_ARRAY_TASK_ID:-0}
STAGE=\${STAGES[$i]}
RUN=\${RUNS[$i]}
SLUG=\${SLUGS[$i]}
if [ -n "\${SLURM_ARRAY_JOB_ID:-}" ]; then JOB="\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}"; else JOB="$SLURM_JOB_ID"; fi
mkdir -p "$RUN/slurm"
echo "mtc: $STAGE as job $JOB (attempt $(( \${SLURM_RESTART_COUNT:-0} + 1 ))) on $(hostname) at $(date -Is)" >>"$RUN/slurm/$SLUG.log"
# Job control: the stage runs in its own process group, with SIGINT not ignored as a background job's would be.
set -m
${spec.mtc.map(shellQuote).join(' ')} run --stage "$STAGE" --run "$RUN" --json --backend ${shellQuote(spec.backend)} >>"$RUN/slurm/$SLUG.events.jsonl" 2>>"$RUN/slurm/$SLUG.log" &
child=$!
near_limit=0
trap 'near_limit=1; kill -INT "$child" 2>/dev/null' USR1
wait "$child"
rc=$?
if [ "$near_limit" = 1 ]; then
  wait "$child"
  rc=$?
  if [ "$rc" = 130 ]; then
    echo "mtc: near the time limit: checkpoint written; requeueing $JOB" >>"$RUN/slurm/$SLUG.log"
    scontrol requeue "$JOB"
    sleep 60 # the requeue ends this job
    exit 0
  fi
fi
exit "$rc"
`;
}
