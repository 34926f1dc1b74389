/**
 * The report's charts, checked as Chromium draws them: every value of every
 * group is drawn (a zero too), ticks fall on round numbers, no two labels
 * overlap (their boxes from getBBox(), through any rotation), and targets are
 * dashed lines. Each scenario's chart is drawn from a small made-up result,
 * and the committed SVGs in bench/results/ are checked the same way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { barChart, linearTicks, logTicks, niceStep } from '../bench/lib/svg-chart.js';
import { deliveryLatency } from '../bench/scenarios/delivery-latency.js';
import { heldPolls } from '../bench/scenarios/held-polls.js';
import { poolCapacity } from '../bench/scenarios/pool-capacity.js';
import { stuckPolls } from '../bench/scenarios/stuck-polls.js';
import { vsBaseline } from '../bench/scenarios/vs-baseline.js';
import { launchChromium } from './helpers/chromium.js';
import { ROOT } from './helpers/process.js';

interface Drawn {
  width: number;
  height: number;
  texts: Array<{ text: string; box: Box }>;
  slots: Array<{ category: string; series: string; kind: string; value: number | null; markHeight: number; label: string | null }>;
  categories: string[];
  ticks: number[];
  tickTexts: string[];
  targetLines: Array<{ dashed: boolean; value: number; label: string }>;
}
interface Box {
  x: number;
  y: number;
  right: number;
  bottom: number;
}

/** Draw `svg` in the page and read what a reader would see. */
async function inspect(page: Page, svg: string): Promise<Drawn> {
  await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
  // Runs in the page; the project's types have no DOM, so its globals are reached through globalThis.
  return page.evaluate(() => {
    const { document, DOMPoint } = globalThis as any;
    const root = document.querySelector('svg');
    // Measure in the chart's own units, whatever size the file asks to be shown at.
    root.setAttribute('width', String(root.viewBox.baseVal.width));
    root.setAttribute('height', String(root.viewBox.baseVal.height));
    const box = (el: any): Box => {
      const b = el.getBBox();
      const m = el.getCTM();
      const corners = [
        [b.x, b.y],
        [b.x + b.width, b.y],
        [b.x, b.y + b.height],
        [b.x + b.width, b.y + b.height],
      ].map(([x, y]) => new DOMPoint(x, y).matrixTransform(m) as { x: number; y: number });
      return {
        x: Math.min(...corners.map((p) => p.x)),
        y: Math.min(...corners.map((p) => p.y)),
        right: Math.max(...corners.map((p) => p.x)),
        bottom: Math.max(...corners.map((p) => p.y)),
      };
    };
    const view = root.viewBox.baseVal;
    return {
      width: view.width,
      height: view.height,
      texts: [...root.querySelectorAll('text')].map((t: any) => ({ text: String(t.textContent ?? '').trim(), box: box(t) })),
      slots: [...root.querySelectorAll('.bar')].map((el: any) => {
        const mark = el.querySelector('rect');
        return {
          category: el.getAttribute('data-category') as string,
          series: el.getAttribute('data-series') as string,
          kind: el.classList.contains('zero') ? 'zero' : el.classList.contains('missing') ? 'missing' : 'bar',
          value: el.hasAttribute('data-value') ? Number(el.getAttribute('data-value')) : null,
          markHeight: mark ? mark.getBBox().height : 0,
          label:
            el.querySelector('.value-label')?.textContent ??
            (el.classList.contains('missing') ? (el.firstChild?.textContent ?? null) : null),
        };
      }),
      categories: [...root.querySelectorAll('text.category')].map((t: any) => t.getAttribute('data-category') as string),
      ticks: [...root.querySelectorAll('.tick')].map((t: any) => Number(t.getAttribute('data-value'))),
      tickTexts: [...root.querySelectorAll('.tick text')].map((t: any) => String(t.textContent ?? '')),
      targetLines: [...root.querySelectorAll('.target-line')].map((el: any) => {
        const line = el.tagName === 'line' ? el : el.querySelector('line');
        return {
          dashed: Boolean(line.getAttribute('stroke-dasharray')),
          value: Number(el.getAttribute('data-value')),
          label: el.querySelector('text')?.textContent ?? '',
        };
      }),
    };
  });
}

const overlap = (a: Box, b: Box): boolean =>
  Math.min(a.right, b.right) - Math.max(a.x, b.x) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.y, b.y) > 0.5;

/** A tick step is 1, 2 or 5 × 10ⁿ. */
function isRoundStep(step: number): boolean {
  const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
  return [1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6);
}

/** What every chart must satisfy, whatever it shows. */
function expectReadable(drawn: Drawn, name: string): void {
  // Labels: none overlaps another, and none runs off the image.
  for (let i = 0; i < drawn.texts.length; i++) {
    const a = drawn.texts[i]!;
    expect(a.box.x, `${name}: "${a.text}" starts left of the image`).toBeGreaterThanOrEqual(-0.5);
    expect(a.box.right, `${name}: "${a.text}" runs past the right edge`).toBeLessThanOrEqual(drawn.width + 0.5);
    expect(a.box.bottom, `${name}: "${a.text}" runs past the bottom`).toBeLessThanOrEqual(drawn.height + 0.5);
    for (let j = i + 1; j < drawn.texts.length; j++) {
      const b = drawn.texts[j]!;
      expect(overlap(a.box, b.box), `${name}: "${a.text}" overlaps "${b.text}"`).toBe(false);
    }
  }
  // Ticks: round numbers, evenly spaced on a linear axis, 1-2-5 on a log one.
  expect(drawn.ticks.length, `${name}: ticks`).toBeGreaterThanOrEqual(2);
  const steps = drawn.ticks.slice(1).map((t, i) => t - drawn.ticks[i]!);
  const linear = steps.every((s) => Math.abs(s - steps[0]!) < steps[0]! * 1e-6);
  if (linear) {
    expect(isRoundStep(steps[0]!), `${name}: tick step ${steps[0]}`).toBe(true);
    for (const tick of drawn.ticks)
      expect(Math.abs(tick / steps[0]! - Math.round(tick / steps[0]!)), `${name}: tick ${tick}`).toBeLessThan(1e-6);
  } else {
    for (const tick of drawn.ticks) expect(isRoundStep(tick), `${name}: log tick ${tick}`).toBe(true);
  }
  for (const [i, text] of drawn.tickTexts.entries()) expect(Number(text), `${name}: tick label "${text}"`).toBeCloseTo(drawn.ticks[i]!, 9);
  // Every value of every group is drawn and can be seen.
  for (const slot of drawn.slots) {
    if (slot.kind === 'missing') expect(slot.label).toBe('n/a');
    else expect(slot.markHeight, `${name}: ${slot.category} / ${slot.series} (${slot.value})`).toBeGreaterThanOrEqual(2);
    if (slot.kind === 'zero') expect(slot.label).toBe('0');
  }
  // Targets are dashed lines.
  for (const line of drawn.targetLines) expect(line.dashed, `${name}: target at ${line.value}`).toBe(true);
}

/** One drawn slot per category and series, in order. */
function expectEverySlot(drawn: Drawn, categories: string[], series: string[]): void {
  expect(drawn.categories).toEqual(categories);
  expect(drawn.slots.map((s) => `${s.category} / ${s.series}`)).toEqual(categories.flatMap((c) => series.map((s) => `${c} / ${s}`)));
}

const runFigures = (scale: number) => ({
  deliveryP50: 2.8 * scale,
  deliveryP99: 4.2 * scale,
  fanOutP50: 24 * scale,
  fanOutMax: 36 * scale,
  delivered: 1000,
  streamP50: 17 * scale,
  streamMax: 25 * scale,
  streamsDelivered: 1000,
  warmP50: 13 * scale,
  warmMax: 29 * scale,
  warmDelivered: 1000,
  kbPerHeld: 13 * scale,
});

describe('tick steps', () => {
  it('are 1, 2 or 5 × 10ⁿ', () => {
    expect(linearTicks(2.38)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(linearTicks(632)).toEqual([0, 200, 400, 600, 800]);
    expect(linearTicks(115)).toEqual([0, 50, 100, 150]);
    expect(linearTicks(0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(logTicks(314, 755)).toEqual([100, 200, 500, 1000]);
    expect(logTicks(2, 80)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(logTicks(1.5, 500)).toEqual([1, 10, 100, 1000]);
    expect(logTicks(0.5, 5000)).toEqual([0.1, 1, 10, 100, 1000, 10000]);
    for (const span of [0.03, 0.7, 1, 7.5, 99, 1234, 5e6]) expect(isRoundStep(niceStep(span))).toBe(true);
  });
});

/** A page of its own for each test; launchChromium closes the browser when the test ends. */
async function newPage(): Promise<Page> {
  return (await launchChromium()).newPage();
}

describe('the bench charts in Chromium', () => {
  it('stuck-polls draws the inline control even when it measured 0%', async () => {
    const page = await newPage();
    const labels = ['pool 1', 'pool 4', 'pool 16', 'inline'];
    const [chart] = stuckPolls.draw!(
      labels.map((label, i) => ({ label, pingRpsRatio: i === 3 ? 0 : 1.05 - i * 0.1, postRpsRatio: i === 3 ? 0.002 : 0.97 })),
    );
    const drawn = await inspect(page, chart!.svg);
    expectReadable(drawn, 'stuck-polls');
    expectEverySlot(drawn, labels, ['/ping', 'POST message']);
    const inline = drawn.slots.filter((s) => s.category === 'inline');
    expect(inline.map((s) => [s.kind, s.label])).toEqual([
      ['zero', '0'],
      ['bar', '0.2'],
    ]);
    expect(drawn.targetLines.map((l) => l.value)).toEqual([90]);
  });

  it('vs-baseline: round ticks, a dashed target per measure, labels apart, at both sizes', async () => {
    const page = await newPage();
    for (const polls of [1000, 10_000]) {
      const [chart] = vsBaseline.draw!({
        runs: 2,
        polls,
        figures: { pollster: [runFigures(1.2), runFigures(1.9)], baseline: [runFigures(1), runFigures(1)], nchan: [], 'pollster-pg': [] },
      });
      const drawn = await inspect(page, chart!.svg);
      expectReadable(drawn, `vs-baseline, ${polls} polls`);
      expect(drawn.categories).toHaveLength(9);
      expect(drawn.slots).toHaveLength(27);
      // Seven measures have a target; the two warm ones none.
      expect(drawn.targetLines.map((l) => l.value)).toEqual([1.3, 1.5, 1.2, 1.25, 1.2, 1.25, 1.2]);
      expect(drawn.texts.filter((t) => t.text === 'baseline = 1')).toHaveLength(1);
      expect(drawn.ticks).not.toContain(0.625);
    }
  });

  it('delivery-latency: a log axis with 1-2-5 ticks and both latency targets', async () => {
    const page = await newPage();
    const rows = [
      ['notify', 'long poll', 50, 3.4, 7],
      ['sleep', 'long poll', 50, 250, 495],
      ['notify', 'SSE', 50, 3.2, 6.4],
      ['sleep', 'SSE', 50, 245, 492],
      ['notify', 'long poll', 5, 1.5, 4.4],
      ['notify', 'SSE', 5, 1.7, 6.4],
    ].map(([wake, transport, everyMs, p50, p99]) => ({ wake, transport, everyMs, p50, p99 }));
    const [chart] = deliveryLatency.draw!({ rows, cli: {} });
    const drawn = await inspect(page, chart!.svg);
    expectReadable(drawn, 'delivery-latency');
    expect(drawn.slots).toHaveLength(12);
    expect(drawn.targetLines.map((l) => l.value).sort((a, b) => a - b)).toEqual([2, 10]);
  });

  it('pool-capacity names the threads each pool size really runs', async () => {
    const page = await newPage();
    const rows = [1, 2, 4, 8, 16, 32].map((threads) => ({
      threads,
      poolThreads: threads,
      laneThreads: threads,
      offered: 3 * threads,
      running: threads,
      queued: threads,
      rejected: threads,
      rssIdleMiB: 75 + 17.4 * threads,
      rssHeldMiB: 76 + 17.4 * threads,
    }));
    const [chart] = poolCapacity.draw!({ rows });
    const drawn = await inspect(page, chart!.svg);
    expectReadable(drawn, 'pool-capacity');
    expect(drawn.texts.find((t) => t.text.startsWith('T=32'))?.text).toBe('T=3264 threads');
    expect(drawn.ticks).toEqual([0, 200, 400, 600, 800]);
  });

  it('held-polls and a --configs chart with long settings and a value not measured', async () => {
    const page = await newPage();
    const [held] = heldPolls.draw!([
      { model: 'multiplex, 2 threads × 550', polls: 1000, fanOut: { p50: 31, p99: 66, max: 68 } },
      { model: 'pool, 32 threads', polls: 1000, fanOut: { p50: 37, p99: 75, max: 0 } },
    ]);
    expectReadable(await inspect(page, held!.svg), 'held-polls');
    const configs = [
      'MAX_THREADS=4',
      'POLL_MODE=multiplex MAX_THREADS=2 TASKS_PER_THREAD=5000',
      'WAKE=sleep POLL_INTERVAL_MS=500',
      'MAX_THREADS=16 MIN_THREADS=16',
    ];
    const drawn = await inspect(
      page,
      barChart({
        title: '/ping req/s with T and 2T polls held, % of baseline',
        categories: configs.map((c) => c.split(' ').join(', ')),
        series: [
          { name: 'T polls held', values: [98, 101, 97, 0] },
          { name: '2T polls held', values: [96, Number.NaN, 95, 94] },
        ],
        yLabel: '% of baseline req/s',
      }),
    );
    expectReadable(drawn, '--configs');
    expectEverySlot(
      drawn,
      configs.map((c) => c.split(' ').join(', ')),
      ['T polls held', '2T polls held'],
    );
    expect(drawn.slots.filter((s) => s.kind !== 'bar').map((s) => s.kind)).toEqual(['missing', 'zero']);
  });

  it('the committed charts in bench/results/ read as well', async () => {
    const page = await newPage();
    const dir = join(ROOT, 'bench', 'results');
    const files = readdirSync(dir).filter((f) => f.endsWith('.svg'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const drawn = await inspect(page, readFileSync(join(dir, file), 'utf8'));
      expectReadable(drawn, file);
      const series = new Set(drawn.slots.map((s) => s.series)).size;
      expect(drawn.slots, `${file}: a drawn value for every group and series`).toHaveLength(drawn.categories.length * series);
    }
  });
});
