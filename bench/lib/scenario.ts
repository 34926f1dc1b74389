/** What every scenario gets and gives back; the report is built from these. */

export interface BenchSettings {
  quick: boolean;
  /** Pool sizes (MAX_THREADS) to compare. */
  threads: number[];
  /** Seconds per autocannon run. */
  durationS: number;
  /** Repetitions; the report shows medians over them. */
  runs: number;
  /** Messages per delivery-latency run. */
  messages: number;
  /** Held polls for the multiplex scenarios. */
  heldPolls: number;
  heldStreams: number;
}

export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
}

export interface Target {
  goal: string;
  measured: string;
  met: boolean;
}

export interface Chart {
  file: string;
  svg: string;
  caption: string;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** What the scenario does, in a sentence or two, for the report. */
  method: string;
  tables: Table[];
  targets: Target[];
  charts: Chart[];
  data: unknown;
}

export interface Scenario {
  id: string;
  title: string;
  run(settings: BenchSettings, log: (line: string) => void): Promise<ScenarioResult>;
}

export const fmt = (value: number, digits = 2): string =>
  Number.isFinite(value) ? String(Math.round(value * 10 ** digits) / 10 ** digits) : 'n/a';
