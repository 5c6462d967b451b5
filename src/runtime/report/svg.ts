/**
 * SVG charts for the HTML report (pure string building, no network references): line charts with
 * phase bands, box plots and horizontal bar charts of differences. Every chart is a self-contained
 * inline `<svg>` with a title, axis ticks and a legend; colours come from `SERIES_COLOURS`.
 */

export const SERIES_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';

function fmtTick(v: number): string {
  if (v === 0) return '0';
  if (Number.isInteger(v) && Math.abs(v) < 1e5) return String(v);
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi === lo) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Ticks (in log10 units) at 1, 2 and 5 times the powers of ten within [lo, hi] (log10 units). */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of hi - lo > 3 ? [1] : [1, 2, 5]) {
      const t = e + Math.log10(m);
      if (t >= lo && t <= hi) out.push(t);
    }
  }
  return out;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function frameOf(width: number, height: number, legendRows: number): Frame {
  return { width, height, left: 64, right: 16, top: 30, bottom: 44 + 16 * legendRows };
}

function axes(f: Frame, x: (v: number) => number, y: (v: number) => number, xt: number[], yt: number[], xLabel: string, yLabel: string, yFmt: (v: number) => string = fmtTick): string {
  const parts: string[] = [];
  const x0 = f.left;
  const x1 = f.width - f.right;
  const y0 = f.height - f.bottom;
  for (const t of yt) {
    const py = y(t);
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x0 - 6}" y="${(py + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#444">${escapeXml(yFmt(t))}</text>`);
  }
  for (const t of xt) {
    const px = x(t);
    parts.push(`<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${y0}" y2="${y0 + 4}" stroke="#444"/>`);
    parts.push(`<text x="${px.toFixed(1)}" y="${y0 + 16}" text-anchor="middle" font-size="11" fill="#444">${escapeXml(fmtTick(t))}</text>`);
  }
  parts.push(`<line x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}" stroke="#444"/>`);
  parts.push(`<line x1="${x0}" x2="${x0}" y1="${f.top}" y2="${y0}" stroke="#444"/>`);
  parts.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 32}" text-anchor="middle" font-size="12" fill="#222">${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(f.top + y0) / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#222">${escapeXml(yLabel)}</text>`);
  return parts.join('');
}

function legend(f: Frame, items: { name: string; colour: string }[]): string {
  const parts: string[] = [];
  let x = f.left;
  let row = 0;
  for (const it of items) {
    const w = 26 + it.name.length * 6.5;
    if (x + w > f.width - f.right && x > f.left) {
      x = f.left;
      row++;
    }
    const y = f.height - f.bottom + 44 + row * 16;
    parts.push(`<rect x="${x}" y="${y - 9}" width="14" height="10" fill="${it.colour}"/>`);
    parts.push(`<text x="${x + 18}" y="${y}" font-size="11" fill="#222">${escapeXml(it.name)}</text>`);
    x += w + 10;
  }
  return parts.join('');
}

function legendRows(items: { name: string }[], width: number): number {
  let x = 64;
  let rows = items.length > 0 ? 1 : 0;
  for (const it of items) {
    const w = 26 + it.name.length * 6.5;
    if (x + w > width - 16 && x > 64) {
      x = 64;
      rows++;
    }
    x += w + 10;
  }
  return rows;
}

function svgOpen(f: Frame, title: string, kind: string): string {
  return (
    `<svg class="chart ${kind}" role="img" aria-label="${escapeXml(title)}" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" ${FONT}>` +
    `<rect width="${f.width}" height="${f.height}" fill="#ffffff"/>` +
    `<text x="${f.left}" y="18" font-size="13" font-weight="600" fill="#111">${escapeXml(title)}</text>`
  );
}

export interface LineSeries {
  name: string;
  points: [number, number][];
  colour?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Shaded x ranges with a label (e.g. training phases). */
  bands?: { from: number; to: number; label: string }[];
  logY?: boolean;
  width?: number;
  height?: number;
  /** Fixed y range. */
  yRange?: [number, number];
}

/** A line chart (see the module doc). Non-finite points are skipped (and break the line). */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 560;
  const items = o.series.map((s, i) => ({ name: s.name, colour: s.colour ?? SERIES_COLOURS[i % SERIES_COLOURS.length] }));
  const f = frameOf(width, o.height ?? 260, legendRows(items, width));
  const tr = (v: number) => (o.logY ? Math.log10(v) : v);
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(tr(y)));
  let svg = svgOpen(f, o.title, 'line');
  if (pts.length === 0) return `${svg}<text x="${f.left + 10}" y="${f.top + 30}" font-size="12" fill="#666">no data</text></svg>`;
  const xs = pts.map((p) => p[0]);
  let [xlo, xhi] = [Math.min(...xs), Math.max(...xs)];
  if (xlo === xhi) xhi = xlo + 1;
  let [ylo, yhi] = o.yRange ?? [Math.min(...pts.map((p) => tr(p[1]))), Math.max(...pts.map((p) => tr(p[1])))];
  if (ylo === yhi) {
    ylo -= 0.5;
    yhi += 0.5;
  }
  const pad = (yhi - ylo) * 0.05;
  if (!o.yRange) {
    ylo -= pad;
    yhi += pad;
  }
  const X = (v: number) => f.left + ((v - xlo) / (xhi - xlo)) * (f.width - f.left - f.right);
  const Y = (v: number) => f.height - f.bottom - ((v - ylo) / (yhi - ylo)) * (f.height - f.top - f.bottom);
  for (const [i, b] of (o.bands ?? []).entries()) {
    const a = X(Math.max(xlo, b.from));
    const z = X(Math.min(xhi, b.to));
    if (z <= a) continue;
    svg += `<rect class="band" x="${a.toFixed(1)}" y="${f.top}" width="${(z - a).toFixed(1)}" height="${f.height - f.top - f.bottom}" fill="${i % 2 === 0 ? '#f3f6fb' : '#fbf6ef'}"/>`;
    svg += `<text x="${(a + 4).toFixed(1)}" y="${f.top + 12}" font-size="10" fill="#666">${escapeXml(b.label)}</text>`;
  }
  const yt = o.logY ? logTicks(ylo, yhi) : niceTicks(ylo, yhi, 5);
  const integerX = xs.every((x) => Number.isInteger(x));
  const xt = niceTicks(xlo, xhi, 6).filter((t) => !integerX || Number.isInteger(t));
  svg += axes(f, X, Y, xt, yt, o.xLabel, o.yLabel, o.logY ? (t) => fmtTick(10 ** t) : fmtTick);
  o.series.forEach((s, i) => {
    const colour = items[i].colour;
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      const v = tr(y);
      if (!Number.isFinite(x) || !Number.isFinite(v)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${X(x).toFixed(1)} ${Y(v).toFixed(1)}`;
      pen = true;
    }
    svg += `<path class="series" d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`;
    if (s.points.length <= 40) {
      for (const [x, y] of s.points) {
        const v = tr(y);
        if (Number.isFinite(x) && Number.isFinite(v)) svg += `<circle cx="${X(x).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="2.5" fill="${colour}"/>`;
      }
    }
  });
  return `${svg}${legend(f, items)}</svg>`;
}

/** Quartiles by linear interpolation (numpy's default), whiskers at 1.5 IQR (Tukey). */
export function boxStats(values: readonly number[]): { q1: number; median: number; q3: number; lo: number; hi: number; outliers: number[]; n: number } | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const q = (p: number) => {
    const pos = p * (v.length - 1);
    const i = Math.floor(pos);
    return v[i] + (pos - i) * ((v[Math.min(i + 1, v.length - 1)] ?? v[i]) - v[i]);
  };
  const q1 = q(0.25);
  const q3 = q(0.75);
  const iqr = q3 - q1;
  const inside = v.filter((x) => x >= q1 - 1.5 * iqr && x <= q3 + 1.5 * iqr);
  return { q1, median: q(0.5), q3, lo: inside[0], hi: inside[inside.length - 1], outliers: v.filter((x) => x < q1 - 1.5 * iqr || x > q3 + 1.5 * iqr), n: v.length };
}

export interface BoxGroup {
  label: string;
  /** One box per series (e.g. per run), in series order. */
  boxes: { series: number; values: number[] }[];
}

export interface BoxPlotOptions {
  title: string;
  yLabel: string;
  groups: BoxGroup[];
  seriesNames: string[];
  yRange?: [number, number];
  width?: number;
  height?: number;
}

/** Box plots, one group per class, one box per series within a group (like the paper's Figure 2). */
export function boxPlot(o: BoxPlotOptions): string {
  const series = o.seriesNames.map((name, i) => ({ name, colour: SERIES_COLOURS[i % SERIES_COLOURS.length] }));
  const perGroup = Math.max(1, o.seriesNames.length);
  const width = o.width ?? Math.max(360, 90 + o.groups.length * (perGroup * 22 + 26));
  const f = frameOf(width, o.height ?? 280, legendRows(series, width));
  f.bottom += 24; // room for rotated class labels
  let svg = svgOpen(f, o.title, 'box');
  const [ylo, yhi] = o.yRange ?? [0, 1];
  const Y = (v: number) => f.height - f.bottom - ((v - ylo) / (yhi - ylo)) * (f.height - f.top - f.bottom);
  const plotW = f.width - f.left - f.right;
  const gw = plotW / Math.max(1, o.groups.length);
  svg += axes(f, () => f.left, Y, [], niceTicks(ylo, yhi, 5), '', o.yLabel);
  o.groups.forEach((g, gi) => {
    const gx = f.left + gi * gw;
    const bw = Math.min(18, (gw - 12) / perGroup);
    g.boxes.forEach((b) => {
      const s = boxStats(b.values);
      const cx = gx + gw / 2 + (b.series - (perGroup - 1) / 2) * (bw + 4);
      const colour = SERIES_COLOURS[b.series % SERIES_COLOURS.length];
      if (!s) return;
      svg += `<g class="boxitem"><line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${Y(s.lo).toFixed(1)}" y2="${Y(s.hi).toFixed(1)}" stroke="${colour}"/>`;
      svg += `<rect x="${(cx - bw / 2).toFixed(1)}" y="${Y(s.q3).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.max(1, Y(s.q1) - Y(s.q3)).toFixed(1)}" fill="${colour}" fill-opacity="0.35" stroke="${colour}"/>`;
      svg += `<line x1="${(cx - bw / 2).toFixed(1)}" x2="${(cx + bw / 2).toFixed(1)}" y1="${Y(s.median).toFixed(1)}" y2="${Y(s.median).toFixed(1)}" stroke="${colour}" stroke-width="2"/>`;
      for (const o2 of s.outliers) svg += `<circle cx="${cx.toFixed(1)}" cy="${Y(o2).toFixed(1)}" r="2" fill="none" stroke="${colour}"/>`;
      svg += `<title>${escapeXml(`${g.label} · ${o.seriesNames[b.series]}: median ${s.median.toFixed(3)}, n ${s.n}`)}</title></g>`;
    });
    const lx = gx + gw / 2;
    const ly = f.height - f.bottom + 12;
    svg += `<text transform="translate(${lx.toFixed(1)} ${ly}) rotate(-25)" text-anchor="end" font-size="11" fill="#222">${escapeXml(g.label)}</text>`;
  });
  return `${svg}${legend({ ...f, bottom: f.bottom - 24 }, series)}</svg>`;
}

export interface BarChartOptions {
  title: string;
  xLabel: string;
  bars: { label: string; value: number | null; error?: number | null }[];
  width?: number;
}

/** Horizontal bars around zero (paired differences), with an error bar when given. */
export function differenceChart(o: BarChartOptions): string {
  const width = o.width ?? 560;
  const rowH = 20;
  const labelW = Math.min(220, 12 + Math.max(40, ...o.bars.map((b) => b.label.length * 6.5)));
  const height = 60 + o.bars.length * rowH + 30;
  const f: Frame = { width, height, left: labelW, right: 20, top: 30, bottom: 44 };
  let svg = svgOpen(f, o.title, 'bars');
  const vals = o.bars.flatMap((b) => (b.value === null ? [] : [b.value - (b.error ?? 0), b.value + (b.error ?? 0)]));
  const m = Math.max(0.01, ...vals.map(Math.abs));
  const X = (v: number) => f.left + ((v + m) / (2 * m)) * (f.width - f.left - f.right);
  const y0 = f.height - f.bottom;
  for (const t of niceTicks(-m, m, 6)) {
    svg += `<line x1="${X(t).toFixed(1)}" x2="${X(t).toFixed(1)}" y1="${f.top}" y2="${y0}" stroke="${t === 0 ? '#444' : '#e5e5e5'}"/>`;
    svg += `<text x="${X(t).toFixed(1)}" y="${y0 + 16}" text-anchor="middle" font-size="11" fill="#444">${escapeXml(fmtTick(t))}</text>`;
  }
  svg += `<text x="${(f.left + f.width - f.right) / 2}" y="${y0 + 32}" text-anchor="middle" font-size="12" fill="#222">${escapeXml(o.xLabel)}</text>`;
  o.bars.forEach((b, i) => {
    const y = f.top + 8 + i * rowH;
    svg += `<text x="${f.left - 6}" y="${y + 11}" text-anchor="end" font-size="11" fill="#222">${escapeXml(b.label)}</text>`;
    if (b.value === null) {
      svg += `<text x="${X(0) + 4}" y="${y + 11}" font-size="10" fill="#888">n/a</text>`;
      return;
    }
    const a = Math.min(X(0), X(b.value));
    const w = Math.abs(X(b.value) - X(0));
    const colour = b.value >= 0 ? SERIES_COLOURS[2] : SERIES_COLOURS[1];
    svg += `<rect class="bar" x="${a.toFixed(1)}" y="${y}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 6}" fill="${colour}"/>`;
    if (b.error) {
      svg += `<line x1="${X(b.value - b.error).toFixed(1)}" x2="${X(b.value + b.error).toFixed(1)}" y1="${y + (rowH - 6) / 2}" y2="${y + (rowH - 6) / 2}" stroke="#222"/>`;
    }
  });
  return `${svg}</svg>`;
}
