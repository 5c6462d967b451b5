import { useEffect, useReducer } from 'react';
import { Box, Text, useInput } from 'ink';
import type { RunEvents } from '../../runtime/events.js';
import { diceTableLines, emptyRunView, etaSeconds, formatDuration, reduceRunView, type StageView } from '../state.js';

const ICON: Record<StageView['status'], string> = {
  pending: '·',
  running: '▶',
  done: '✔',
  cached: '≡',
  failed: '✘',
  interrupted: '‖',
  skipped: '↷',
};
const COLOR: Record<StageView['status'], string> = {
  pending: 'gray',
  running: 'cyan',
  done: 'green',
  cached: 'green',
  failed: 'red',
  interrupted: 'yellow',
  skipped: 'yellow',
};

export function ProgressBar({ done, total, width = 30 }: { done: number; total: number; width?: number }) {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const full = Math.round(frac * width);
  return (
    <Text>
      <Text color="cyan">{'█'.repeat(full)}</Text>
      <Text color="gray">{'░'.repeat(width - full)}</Text>
      <Text> {(frac * 100).toFixed(0).padStart(3)}%</Text>
    </Text>
  );
}

function StageLine({ stage }: { stage: StageView }) {
  return (
    <Box flexDirection="column">
      <Text>
        <Text color={COLOR[stage.status]}>{ICON[stage.status]} </Text>
        <Text bold={stage.status === 'running'}>{stage.id.padEnd(26)}</Text>
        <Text color="gray">
          {stage.seconds !== undefined ? ` ${formatDuration(stage.seconds)}` : ''}
          {stage.status === 'running' && stage.description ? ` ${stage.description}` : ''}
        </Text>
      </Text>
      {stage.status === 'running' && stage.total > 0 ? (
        <Box marginLeft={2}>
          <ProgressBar done={stage.done} total={stage.total} />
          <Text>
            {'  '}
            {stage.done}/{stage.total} {stage.unit}
            {stage.rate !== undefined ? `  ${stage.rate.toFixed(2)} ${stage.unit}/s` : ''}
            {etaSeconds(stage) !== undefined ? `  ETA ${formatDuration(etaSeconds(stage) ?? 0)}` : ''}
            {stage.epoch !== undefined ? `  epoch ${stage.epoch}` : ''}
            {stage.loss !== undefined ? `  loss ${stage.loss.toFixed(4)}` : ''}
            {stage.detail ? `  ${stage.detail}` : ''}
          </Text>
        </Box>
      ) : null}
      {stage.status === 'running' && stage.lastLog ? (
        <Box marginLeft={2}>
          <Text color="gray">{stage.lastLog}</Text>
        </Box>
      ) : null}
      {stage.status === 'failed' && stage.error ? (
        <Box marginLeft={2}>
          <Text color="red">{stage.error}</Text>
        </Box>
      ) : null}
    </Box>
  );
}

/** Ctrl-C (the terminal is in raw mode, so it arrives as a key) and `q` ask the run to stop, as SIGINT does. */
function InterruptKeys({ onInterrupt }: { onInterrupt: () => void }) {
  useInput((input, key) => {
    if ((key.ctrl && input === 'c') || input === 'q') onInterrupt();
  });
  return null;
}

/** The `mtc run` screen: stages with their state, live progress, and the Dice table at the end. */
export function RunApp({ events, onInterrupt }: { events: RunEvents; onInterrupt?: () => void }) {
  const [view, dispatch] = useReducer(reduceRunView, emptyRunView);
  useEffect(() => events.subscribe(dispatch), [events]);
  return (
    <Box flexDirection="column">
      {onInterrupt ? <InterruptKeys onInterrupt={onInterrupt} /> : null}
      <Text>
        <Text bold>mtc {view.command}</Text> {view.experiment}
        <Text color="gray">
          {view.backend ? `  backend ${view.backend}` : ''}
          {view.runDir ? `  → ${view.runDir}` : ''}
        </Text>
      </Text>
      {view.stages.map((s) => (
        <StageLine key={s.id} stage={s} />
      ))}
      {view.results.map((r) => (
        <Box key={r.stage} flexDirection="column" marginTop={1}>
          <Text bold>Per-class Dice on the validation cases ({r.stage})</Text>
          {diceTableLines(r).map((l, i, all) => (
            <Text key={i} bold={i === all.length - 1} color={i === all.length - 1 ? 'green' : undefined}>
              {l}
            </Text>
          ))}
        </Box>
      ))}
      {view.finished ? (
        <Text color={view.finished.status === 'done' ? 'green' : 'red'}>
          {view.finished.status} in {formatDuration(view.finished.seconds)}
        </Text>
      ) : null}
    </Box>
  );
}
