/**
 * Runs a scenario once per server source and sets the figures side by side:
 * one table whose rows start with the configuration, and one chart with a
 * group of bars per configuration.
 */
import type { BenchSettings, Measured, Scenario, ScenarioResult, ServerSource } from './scenario.js';
import { barChart } from './svg-chart.js';

export async function compareScenario(
  scenario: Scenario,
  sources: ServerSource[],
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const comparison = scenario.compare;
  if (!comparison) throw new Error(`${scenario.id} has no comparison`);
  const measured: Array<{ label: string } & Measured> = [];
  for (const source of sources) {
    log(`configuration: ${source.label}`);
    measured.push({ label: source.label, ...(await comparison.measure(source, settings, (line) => log(`  ${line}`))) });
  }
  const external = sources.some((s) => s.external);
  const series = [...new Set(measured.flatMap((m) => m.bars.map((b) => b.name)))];
  const notes = measured.flatMap((m) => (m.notes ?? []).map((note) => (sources.length > 1 ? `${m.label}: ${note}` : note)));
  const method = [comparison.method(settings, external), ...notes.map((n) => `Left out — ${n}`)].join(' ');
  const file = `${scenario.id}-${external ? 'url' : 'configs'}.svg`;
  return {
    id: scenario.id,
    title: scenario.title,
    method,
    tables: [
      {
        title: external ? `${scenario.title}, on ${sources[0]!.label}` : `${scenario.title}, by configuration`,
        columns: ['configuration', ...(measured.find((m) => m.columns.length)?.columns ?? [])],
        rows: measured.flatMap((m) => m.rows.map((row) => [`\`${m.label}\``, ...row])),
      },
    ],
    targets: [],
    charts: series.length
      ? [
          {
            file,
            caption: `${comparison.chart.title}, by configuration`,
            svg: barChart({
              title: comparison.chart.title,
              // The chart puts each ", "-separated part on its own line: one variable a line.
              categories: measured.map((m) => m.label.split(' ').join(', ')),
              series: series.map((name) => ({ name, values: measured.map((m) => m.bars.find((b) => b.name === name)?.value ?? NaN) })),
              yLabel: comparison.chart.yLabel,
              log: comparison.chart.log ?? false,
            }),
          },
        ]
      : [],
    data: measured,
  };
}
