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
  /**
   * Seconds before the time limit at which Slurm signals the job to checkpoint and requeue itself
   * (`--signal-lead`, default 120). Slurm checks time limits every 30 s, so the signal comes 0-30 s
   * earlier than this; the job must be able to write its checkpoint in this time.
   */
  signalSeconds?: number;
}

export interface JobTask {
  stage: string;
  runDir: string;
  /** Run it even when it is in the store (`--force`): the job passes `--force-stage`. */
  force?: boolean;
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

/** The largest signal lead sbatch takes (`--signal=SIG@TIME`, TIME 0-65535 s). */
export const MAX_SIGNAL_SECONDS = 65535;

/**
 * A time limit as sbatch takes it, in seconds: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`;
 * null for `UNLIMITED`/`INFINITE`, undefined when it is none of these (sbatch will say so).
 */
export function timeLimitSeconds(time: string): number | null | undefined {
  const t = time.trim();
  if (/^(unlimited|infinite)$/i.test(t)) return null;
  const days = /^(\d+)-(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t);
  if (days) return Number(days[1]) * 86400 + Number(days[2]) * 3600 + Number(days[3] ?? 0) * 60 + Number(days[4] ?? 0);
  const parts = /^\d+(:\d+){0,2}$/.test(t) ? t.split(':').map(Number) : null;
  if (!parts) return undefined;
  if (parts.length === 1) return parts[0] * 60;
  if (parts.length === 2) return parts[0] * 60 + parts[1];
  return parts[0] * 3600 + parts[1] * 60 + parts[2];
}

/** What is wrong with a signal lead for a time limit (null: nothing). */
export function signalLeadProblem(o: Pick<SbatchOptions, 'signalSeconds' | 'time'>): string | null {
  const lead = o.signalSeconds ?? DEFAULT_SIGNAL_SECONDS;
  if (!Number.isInteger(lead) || lead < 1 || lead > MAX_SIGNAL_SECONDS) {
    return `--signal-lead ${lead} is not a whole number of seconds from 1 to ${MAX_SIGNAL_SECONDS}`;
  }
  const limit = o.time === undefined ? undefined : timeLimitSeconds(o.time);
  if (limit !== undefined && limit !== null && lead >= limit) {
    return `--signal-lead ${lead} s is not shorter than the time limit --time ${o.time} (${limit} s): every job would be told to stop as it starts; `
      + 'give a lead of a few minutes under the limit (--signal-lead SECONDS)';
  }
  return null;
}

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
  const anyForced = spec.tasks.some((t) => t.force);
  const forced = anyForced
    ? `FORCED=${list(spec.tasks.map((t) => (t.force ? '1' : '0')))}\nif [ "\${FORCED[$i]}" = 1 ]; then FORCE=(--force-stage); else FORCE=(); fi\n`
    : '';
  // `${A[@]+"${A[@]}"}`: an empty array under set -u, also in the bash 4.2 of older clusters' nodes.
  const force = anyForced ? ' ${FORCE[@]+"${FORCE[@]}"}' : '';
  const runStage = `${spec.mtc.map(shellQuote).join(' ')} run --stage "$STAGE" --run "$RUN" --json --backend ${shellQuote(spec.backend)}${force}`;
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
${forced}if [ -n "\${SLURM_ARRAY_JOB_ID:-}" ]; then JOB="\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}"; else JOB="$SLURM_JOB_ID"; fi
mkdir -p "$RUN/slurm"
echo "mtc: $STAGE as job $JOB (attempt $(( \${SLURM_RESTART_COUNT:-0} + 1 ))) on $(hostname) at $(date -Is)" >>"$RUN/slurm/$SLUG.log"
# Job control: the stage runs in its own process group, with SIGINT not ignored as a background job's would be.
set -m
# The trap is set before the stage starts: a signal that comes early (Slurm signals up to 30 s before the lead) still stops it.
child=
near_limit=0
trap 'near_limit=1; [ -n "$child" ] && kill -INT "$child" 2>/dev/null' USR1
${runStage} >>"$RUN/slurm/$SLUG.events.jsonl" 2>>"$RUN/slurm/$SLUG.log" &
child=$!
[ "$near_limit" = 1 ] && kill -INT "$child" 2>/dev/null
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
