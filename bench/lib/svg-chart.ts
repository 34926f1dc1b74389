/**
 * Grouped bar charts as standalone SVG, so the Markdown report renders them
 * anywhere without a charting dependency.
 *
 * Every value of every group is drawn: a bar, a marker with "0" for a zero
 * (an empty slot would read as "not measured"), or "n/a" where nothing was
 * measured. Axis ticks fall on round numbers (1, 2 or 5 × 10ⁿ apart). Text is
 * laid out from an estimate of its width in DejaVu Sans — what Debian's
 * Chromium uses for `system-ui` and one of the widest common fallbacks — so
 * labels wrap or shrink before they run into each other;
 * test/bench-charts.test.ts checks the result with Chromium's own boxes.
 * Elements carry classes and data-* attributes so that test can read them.
 */

export interface BarSeries {
  name: string;
  /** One per category; NaN where nothing was measured. */
  values: number[];
}

/** A dashed line across the whole plot, labelled in the right margin. */
export interface ChartLine {
  value: number;
  label: string;
  /** A target (drawn in the target colour) or a reference such as the baseline. */
  kind: 'target' | 'reference';
}

/** A target that applies to one group: a dashed line across that group, its label under the group's name. */
export interface GroupTarget {
  value: number;
  label: string;
}

export interface BarChartOptions {
  title: string;
  /** Group names; ", " starts a new line. */
  categories: string[];
  series: BarSeries[];
  yLabel: string;
  /** Lines across the plot: a target for every group, or a reference such as "baseline = 1". */
  lines?: ChartLine[];
  /** One entry per category (undefined: no target for that group). */
  groupTargets?: Array<GroupTarget | undefined>;
  log?: boolean;
}

const COLORS = ['#3559e0', '#e0563b', '#2f9e6b', '#a05ad6', '#d6a02f'];
const TARGET_COLOR = '#b42318';
const FONT = 12;
const LINE_HEIGHT = 1.15;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An upper estimate of the width of `text` in DejaVu Sans at `size` px (its advance widths, per em). */
export function textWidth(text: string, size = FONT, bold = false): number {
  let em = 0;
  for (const ch of text) {
    if ("ilj.,:;|!'".includes(ch)) em += 0.3;
    else if ('ft()[]/ '.includes(ch)) em += 0.4;
    else if (ch === 'r') em += 0.43;
    else if ('mw'.includes(ch)) em += 0.95;
    else if ('MW'.includes(ch)) em += 1;
    else if (/[0-9]/.test(ch)) em += 0.64;
    else if (/[A-Z]/.test(ch)) em += 0.76;
    else if (/[a-z]/.test(ch)) em += 0.63;
    else em += 0.86;
  }
  return em * size * (bold ? 1.12 : 1);
}

/** The tick step for `span` split into about `count` parts: 1, 2 or 5 × 10ⁿ. */
export function niceStep(span: number, count = 5): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * magnitude;
}

/** Decimal places that show every multiple of `step` exactly. */
function decimals(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** Linear ticks from 0 through the first multiple of the step at or above `max`. */
export function linearTicks(max: number, count = 5): number[] {
  const step = niceStep(max > 0 ? max : 1, count);
  const top = Math.ceil((max > 0 ? max : 1) / step - 1e-9) * step;
  const digits = decimals(step);
  const ticks: number[] = [];
  for (let i = 0; i * step <= top + step / 2; i++) ticks.push(Number((i * step).toFixed(digits)));
  return ticks;
}

/** Log ticks from the decade at or below `min` to the one at or above `max`; 1-2-5 steps when that is two decades or fewer. */
export function logTicks(min: number, max: number): number[] {
  const low = Math.floor(Math.log10(min));
  const high = Math.max(low + 1, Math.ceil(Math.log10(max) - 1e-9));
  const steps = high - low <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = low; e <= high; e++) {
    for (const s of steps) {
      if (e === high && s > 1) break;
      ticks.push(Number((s * 10 ** e).toPrecision(3)));
    }
  }
  return ticks;
}

function tickText(value: number, ticks: number[]): string {
  const steps = ticks.slice(1).map((t, i) => t - ticks[i]!);
  const smallest = Math.min(...steps.filter((s) => s > 0), Math.abs(value) || Infinity);
  return value.toFixed(Number.isFinite(smallest) ? Math.min(6, decimals(smallest)) : 0);
}

/** `MAX_THREADS=16` → `MAX_THREADS=`, `16`: where a long setting may break. */
function splitAtEquals(word: string): string[] {
  const at = word.indexOf('=');
  return at > 0 && at < word.length - 1 ? [word.slice(0, at + 1), word.slice(at + 1)] : [word];
}

/** Split `text` into lines no wider than `width` at `size`: ", " always breaks, spaces break when needed, "=" breaks a word too long. */
function wrap(text: string, width: number, size: number): string[] {
  const lines: string[] = [];
  for (const part of text.split(', ')) {
    const words = part.split(' ').flatMap((word) => {
      if (textWidth(word, size) <= width) return [word];
      // MAX_THREADS=16 → "MAX_THREADS=" / "16"; what is still too wide is cut to fit.
      return splitAtEquals(word).flatMap((piece) => {
        const out: string[] = [];
        let current = '';
        for (const ch of piece) {
          if (current && textWidth(current + ch, size) > width) {
            out.push(current);
            current = '';
          }
          current += ch;
        }
        return current ? [...out, current] : out;
      });
    });
    let line = '';
    for (const word of words) {
      const next = line ? `${line} ${word}` : word;
      if (line && textWidth(next, size) > width) {
        lines.push(line);
        line = word;
      } else {
        line = next;
      }
    }
    if (line) lines.push(line);
  }
  return lines;
}

function formatValue(value: number): string {
  return String(Number(value.toPrecision(3)));
}

export function barChart(options: BarChartOptions): string {
  const { categories, series } = options;
  const log = options.log ?? false;
  const lines = options.lines ?? [];
  const groupTargets = options.groupTargets ?? [];
  const finite = series.flatMap((s) => s.values).filter(Number.isFinite);
  const targetValues = [...lines.map((l) => l.value), ...groupTargets.flatMap((t) => (t ? [t.value] : []))];

  // Scale and ticks.
  let ticks: number[];
  if (log) {
    const positive = [...finite, ...targetValues].filter((v) => v > 0);
    ticks = logTicks(positive.length ? Math.min(...positive) : 1, positive.length ? Math.max(...positive) : 10);
  } else {
    ticks = linearTicks(Math.max(0, ...finite, ...targetValues));
  }
  const bottom = ticks[0]!;
  const top = ticks[ticks.length - 1]!;
  const tickLabels = ticks.map((t) => tickText(t, ticks));

  // Horizontal layout: room for tick labels on the left, line labels on the right, and enough per group.
  const lineLabelWidth = Math.max(0, ...lines.map((l) => textWidth(l.label, 11)));
  const margin = {
    top: 48,
    left: Math.ceil(34 + Math.max(...tickLabels.map((t) => textWidth(t)))),
    right: lines.length ? Math.ceil(lineLabelWidth + 16) : 20,
  };
  // Wide enough for the bars and, up to a point, for each label's longest line, so that labels wrap less.
  const longestPart = Math.max(
    0,
    ...categories.flatMap((c) => c.split(', ').map((part) => textWidth(part))),
    ...groupTargets.map((t) => (t ? textWidth(t.label) : 0)),
  );
  // Each bar's slot must also hold the 10 px text drawn over it — "n/a" where nothing was measured, the
  // figure of a zero or of a bar too short to read (under 8 px of the plot's 228) — and a gap; bars take 80% of a group.
  const fraction = (v: number): number =>
    log ? (Math.log10(v) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom)) : (v - bottom) / (top - bottom);
  const overBar = series.flatMap((s) =>
    categories.map((_, c) => {
      const v = s.values[c] ?? Number.NaN;
      if (!Number.isFinite(v)) return 'n/a';
      return v === 0 || (log && v < bottom) || fraction(v) * 228 < 8 ? formatValue(v) : '';
    }),
  );
  const widest = Math.max(0, ...overBar.map((text) => (text ? textWidth(text, 10) : 0)));
  const bars = Math.max(series.length * 16 + 16, (series.length * (widest + 4)) / 0.8);
  const minGroup = Math.max(64, bars, Math.min(120, longestPart + 14));
  const width = Math.max(720, margin.left + margin.right + categories.length * minGroup);
  const plotW = width - margin.left - margin.right;
  const group = plotW / Math.max(1, categories.length);
  const barW = Math.min(36, (group * 0.8) / Math.max(1, series.length));

  // Category labels: wrapped to the group's width, at one font size for all, smaller only if a word cannot fit.
  const room = group - 8;
  const fits = (size: number): boolean =>
    categories.every((c) =>
      c
        .split(/, | /)
        .flatMap(splitAtEquals)
        .every((w) => textWidth(w, size) <= room),
    );
  let labelSize = FONT;
  while (labelSize > 9 && !fits(labelSize)) labelSize -= 1;
  const labelLines = categories.map((c, i) => {
    const wrapped = wrap(c, room, labelSize);
    const target = groupTargets[i];
    return target ? [...wrapped, ...wrap(target.label, room, labelSize)] : wrapped;
  });
  const maxLines = Math.max(1, ...labelLines.map((l) => l.length));
  const lineStep = Math.ceil(labelSize * LINE_HEIGHT);

  // Legend: series, then the target line if groups have one; wrapped into rows.
  const legend: Array<{ name: string; color: string; dashed: boolean }> = series.map((s, i) => ({
    name: s.name,
    color: COLORS[i % COLORS.length]!,
    dashed: false,
  }));
  if (groupTargets.some(Boolean)) legend.push({ name: 'target', color: TARGET_COLOR, dashed: true });
  const legendRows: Array<Array<{ name: string; color: string; dashed: boolean; x: number }>> = [[]];
  let legendX = margin.left;
  for (const item of legend) {
    const itemW = 22 + textWidth(item.name) + 18;
    if (legendX + itemW > width - 10 && legendRows[legendRows.length - 1]!.length) {
      legendRows.push([]);
      legendX = margin.left;
    }
    legendRows[legendRows.length - 1]!.push({ ...item, x: legendX });
    legendX += itemW;
  }

  // 228: the figure the slot widths above assume.
  const plotH = 228;
  const axisLabelsTop = margin.top + plotH + 16;
  const legendTop = axisLabelsTop + (maxLines - 1) * lineStep + 30;
  const height = legendTop + legendRows.length * 20 + 6;

  const y = (value: number): number => {
    if (log) {
      const v = Math.min(Math.max(value, bottom), top);
      return margin.top + plotH - ((Math.log10(v) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom))) * plotH;
    }
    return margin.top + plotH - ((value - bottom) / (top - bottom)) * plotH;
  };
  const r = (n: number): number => Math.round(n * 100) / 100;
  let titleSize = 15;
  while (titleSize > 11 && textWidth(options.title, titleSize, true) > width - 20) titleSize -= 1;
  const baseY = margin.top + plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text class="title" x="${width / 2}" y="24" text-anchor="middle" font-size="${titleSize}" font-weight="600">${escapeXml(options.title)}</text>`,
  ];
  ticks.forEach((tick, i) => {
    parts.push(
      `<g class="tick" data-value="${tick}"><line x1="${margin.left}" x2="${width - margin.right}" y1="${r(y(tick))}" y2="${r(y(tick))}" stroke="#e5e7eb"/>` +
        `<text x="${margin.left - 6}" y="${r(y(tick) + 4)}" text-anchor="end" fill="#555">${tickLabels[i]}</text></g>`,
    );
  });
  parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${baseY}" y2="${baseY}" stroke="#9ca3af"/>`);

  categories.forEach((category, c) => {
    const x0 = margin.left + c * group + (group - barW * series.length) / 2;
    series.forEach((s, i) => {
      const value = s.values[c];
      const x = r(x0 + i * barW);
      const w = r(barW - 2);
      const cx = r(x0 + i * barW + (barW - 2) / 2);
      const color = COLORS[i % COLORS.length]!;
      const data = `data-category="${escapeXml(category)}" data-series="${escapeXml(s.name)}"`;
      if (value === undefined || !Number.isFinite(value)) {
        parts.push(
          `<text class="bar missing" ${data} x="${cx}" y="${baseY - 5}" text-anchor="middle" font-size="10" fill="#555">n/a<title>${escapeXml(s.name)}: not measured</title></text>`,
        );
        return;
      }
      const yTop = y(value);
      const drawnZero = value === 0 || (log && value < bottom);
      if (drawnZero) {
        // A zero has no height: a flat marker and its figure show it was measured.
        parts.push(
          `<g class="bar zero" ${data} data-value="${value}"><title>${escapeXml(s.name)}: ${value}</title>` +
            `<rect x="${x}" y="${baseY - 3}" width="${w}" height="3" fill="${color}"/>` +
            `<text class="value-label" x="${cx}" y="${baseY - 7}" text-anchor="middle" font-size="10" fill="#111">${formatValue(value)}</text></g>`,
        );
        return;
      }
      // Any measured value stays visible; a sliver gets its figure beside it.
      const h = Math.max(2, baseY - yTop);
      const label =
        h < 8
          ? `<text class="value-label" x="${cx}" y="${r(baseY - h - 4)}" text-anchor="middle" font-size="10" fill="#111">${formatValue(value)}</text>`
          : '';
      parts.push(
        `<g class="bar" ${data} data-value="${value}"><title>${escapeXml(s.name)}: ${value}</title><rect x="${x}" y="${r(baseY - h)}" width="${w}" height="${r(h)}" fill="${color}"/>${label}</g>`,
      );
    });
    const target = groupTargets[c];
    if (target) {
      const ty = r(y(target.value));
      parts.push(
        `<line class="target-line group-target" data-category="${escapeXml(category)}" data-value="${target.value}" x1="${r(margin.left + c * group + 2)}" x2="${r(margin.left + (c + 1) * group - 2)}" y1="${ty}" y2="${ty}" stroke="${TARGET_COLOR}" stroke-width="1.5" stroke-dasharray="5 3"/>`,
      );
    }
    const x = r(margin.left + c * group + group / 2);
    const nameLines = labelLines[c]!.length - (target ? wrap(target.label, room, labelSize).length : 0);
    parts.push(
      `<text class="category" data-category="${escapeXml(category)}" x="${x}" y="${axisLabelsTop}" text-anchor="middle" font-size="${labelSize}">${labelLines[
        c
      ]!.map(
        (line, i) =>
          `<tspan x="${x}" dy="${i === 0 ? 0 : lineStep}"${i >= nameLines ? ` fill="${TARGET_COLOR}"` : ''}>${escapeXml(line)}</tspan>`,
      ).join('')}</text>`,
    );
  });

  // Full-width lines, their labels in the right margin, pushed apart where two would touch.
  const placed = lines.map((line) => ({ ...line, y: y(line.value), labelY: y(line.value) + 4 })).sort((a, b) => a.y - b.y);
  for (let i = 1; i < placed.length; i++) placed[i]!.labelY = Math.max(placed[i]!.labelY, placed[i - 1]!.labelY + 14);
  for (const line of placed) {
    const isTarget = line.kind === 'target';
    const color = isTarget ? TARGET_COLOR : '#111';
    parts.push(
      `<g class="${isTarget ? 'target-line' : 'reference-line'}" data-value="${line.value}"><line x1="${margin.left}" x2="${width - margin.right}" y1="${r(line.y)}" y2="${r(line.y)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="6 4"/>` +
        `<text x="${width - margin.right + 6}" y="${r(line.labelY)}" font-size="11" fill="${color}">${escapeXml(line.label)}</text></g>`,
    );
  }

  parts.push(
    `<text class="y-label" transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(options.yLabel)}${log ? ' (log scale)' : ''}</text>`,
  );
  legendRows.forEach((row, i) => {
    const ly = legendTop + i * 20;
    for (const item of row) {
      const swatch = item.dashed
        ? `<line x1="${item.x}" x2="${item.x + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${item.color}" stroke-width="1.5" stroke-dasharray="5 3"/>`
        : `<rect x="${item.x}" y="${ly - 10}" width="12" height="12" fill="${item.color}"/>`;
      parts.push(
        `<g class="legend-item">${swatch}<text x="${item.x + (item.dashed ? 22 : 16)}" y="${ly}">${escapeXml(item.name)}</text></g>`,
      );
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}
