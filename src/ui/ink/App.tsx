import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Box, Text, useInput, useStdout } from 'ink';
import type { RunEvents } from '../../runtime/events.js';
import type { RunView } from '../state.js';
import { ThrottledView } from '../throttle.js';
import { colourEnabled, lineToAnsi } from './ansi.js';
import { screenLines, type Line } from './layout.js';

/** Draws lines that the layout already fitted to the width, one text node each (truncate: a safety net, never a wrap). */
export function Lines({ lines, colour = colourEnabled() }: { lines: Line[]; colour?: boolean }) {
  return (
    <Box flexDirection="column">
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate">
          {line.length === 0 ? ' ' : lineToAnsi(line, colour)}
        </Text>
      ))}
    </Box>
  );
}

/** The terminal's size, following resizes (80x24 when unknown). */
function useTerminalSize(columns?: number, rows?: number): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: columns ?? (stdout.columns || 80), rows: rows ?? (stdout.rows || 24) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (columns !== undefined && rows !== undefined) return;
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, columns, rows]);
  return size;
}

/** One frame of the screen for a view (what the tests render at a fixed width). */
export function RunScreen({ view, columns, rows, stopping = 0 }: { view: RunView; columns: number; rows: number; stopping?: number }) {
  return <Lines lines={screenLines(view, { columns, rows, stopping })} />;
}

export interface RunAppProps {
  events: RunEvents;
  /** `q` and Ctrl-C (the screen holds the terminal in raw mode, so no SIGINT arrives) call it, as SIGINT would. */
  onInterrupt?: () => void;
  /** A store to draw from (the renderer passes its own, to flush it before unmounting). */
  store?: ThrottledView;
  intervalMs?: number;
  columns?: number;
  rows?: number;
  /** Stop requests counted outside (the screen's worker: the host reads the keys), added to those read here. */
  stopping?: number;
}

/** The `mtc run` screen: the view is reduced from events at once and drawn a few times a second at most. */
export function RunApp({ events, onInterrupt, store: given, intervalMs, columns, rows, stopping: outside = 0 }: RunAppProps) {
  const store = useMemo(() => given ?? new ThrottledView(events, { intervalMs }), [events, given, intervalMs]);
  useEffect(() => (given ? undefined : () => store.dispose()), [store, given]);
  const view = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const size = useTerminalSize(columns, rows);
  const [stopping, setStopping] = useState(0);
  useInput(
    (input, key) => {
      if ((key.ctrl && input === 'c') || input === 'q') {
        setStopping((n) => n + 1);
        onInterrupt?.();
      }
    },
    { isActive: onInterrupt !== undefined },
  );
  return <RunScreen view={view} columns={size.columns} rows={size.rows} stopping={stopping + outside} />;
}
