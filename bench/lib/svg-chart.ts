/**
 * Grouped bar charts as standalone SVG, so the Markdown report renders them
 * anywhere without a charting dependency.
 */

export interface BarSeries {
  name: string;
  values: number[];
}

const COLORS = ['#3559e0', '#e0563b', '#2f9e6b', '#a05ad6', '#d6a02f'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

export function barChart(options: {
  title: string;
  categories: string[];
  series: BarSeries[];
  yLabel: string;
  /** Draw a dashed line at this value (a target or a baseline). */
  reference?: { value: number; label: string };
  log?: boolean;
}): string {
  const width = 720;
  const height = 360;
  const margin = { top: 48, right: 20, bottom: 84, left: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = options.series.flatMap((s) => s.values).filter(Number.isFinite);
  const log = options.log ?? false;
  const top = log
    ? 10 ** Math.ceil(Math.log10(Math.max(...all, options.reference?.value ?? 0, 1)))
    : niceMax(Math.max(...all, options.reference?.value ?? 0));
  const bottom = log ? 10 ** Math.floor(Math.log10(Math.max(Math.min(...all.filter((v) => v > 0)), 1e-3))) : 0;
  const y = (value: number): number => {
    if (log) {
      const v = Math.max(value, bottom);
      return margin.top + plotH - ((Math.log10(v) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom))) * plotH;
    }
    return margin.top + plotH - (value / top) * plotH;
  };
  const group = plotW / options.categories.length;
  const barW = Math.min(36, (group * 0.8) / options.series.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escape(options.title)}</text>`,
  ];
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(top / bottom)) + 1 }, (_, i) => bottom * 10 ** i)
    : [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  for (const tick of ticks) {
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e7eb"/>`,
      `<text x="${margin.left - 6}" y="${y(tick) + 4}" text-anchor="end" fill="#555">${+tick.toPrecision(3)}</text>`,
    );
  }
  options.categories.forEach((category, c) => {
    const x0 = margin.left + c * group + (group - barW * options.series.length) / 2;
    options.series.forEach((series, s) => {
      const value = series.values[c];
      if (value === undefined || !Number.isFinite(value)) return;
      const yTop = y(value);
      parts.push(
        `<rect x="${x0 + s * barW}" y="${yTop}" width="${barW - 2}" height="${Math.max(0, margin.top + plotH - yTop)}" fill="${COLORS[s % COLORS.length]}"><title>${escape(series.name)}: ${value}</title></rect>`,
      );
    });
    // Long labels ("notify, long poll, 50 ms") go on one line per part.
    const lines = category.split(', ');
    const x = margin.left + c * group + group / 2;
    parts.push(
      `<text x="${x}" y="${margin.top + plotH + 16}" text-anchor="middle">${lines
        .map((line, i) => `<tspan x="${x}" dy="${i === 0 ? 0 : 13}">${escape(line)}</tspan>`)
        .join('')}</text>`,
    );
  });
  if (options.reference) {
    const ry = y(options.reference.value);
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${ry}" y2="${ry}" stroke="#111" stroke-dasharray="6 4"/>`,
      `<text x="${width - margin.right}" y="${ry - 5}" text-anchor="end" fill="#111">${escape(options.reference.label)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escape(options.yLabel)}${log ? ' (log scale)' : ''}</text>`,
  );
  let legendX = margin.left;
  options.series.forEach((series, s) => {
    parts.push(
      `<rect x="${legendX}" y="${height - 22}" width="12" height="12" fill="${COLORS[s % COLORS.length]}"/>`,
      `<text x="${legendX + 16}" y="${height - 12}">${escape(series.name)}</text>`,
    );
    legendX += 30 + series.name.length * 7;
  });
  parts.push('</svg>');
  return parts.join('\n');
}
