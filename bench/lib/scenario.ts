/** What every scenario gets and gives back; the report is built from these. */
import type { BenchServer } from './server.js';

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

/**
 * What a target compares, which says how far it carries to another machine:
 * - `ratio`: two figures of the same run on the same machine (Pollster ÷ the
 *   thread-free evented baseline, /ping with polls held ÷ without), so a
 *   slower or busier machine moves both alike;
 * - `absolute`: a fixed number of ms, KB or MiB, which moves with the machine;
 * - `correctness`: nothing lost, every excess request refused: holds on any machine.
 */
export type TargetKind = 'ratio' | 'absolute' | 'correctness';

export interface Target {
  /** What is measured and the bound, in words a user reads without the code: "10,000 polls p50 ≤ 1.2× the evented baseline". */
  goal: string;
  measured: string;
  met: boolean;
  kind: TargetKind;
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

/**
 * Where a comparison gets its server: a child process started with one
 * configuration (`--configs`), or the server the user already runs (`--url`).
 */
export interface ServerSource {
  /** The configuration as the user wrote it, or the URL. */
  label: string;
  /** The server is the user's own: post to `wall` only, never restart it, no CLI writes. */
  external: boolean;
  /** The one wall an external run posts and polls on. */
  wall: number | undefined;
  /** The user to log in as. */
  user: string;
  /**
   * A server to measure. `defaults` are the settings the scenario needs to
   * work (long timeouts, room in the queue); the bench's own environment and
   * the configuration override them, and an external server ignores them.
   */
  open(defaults?: Record<string, string>): Promise<BenchServer>;
}

/** One configuration's figures, to be set beside the others'. */
export interface Measured {
  /** Columns after "configuration". */
  columns: string[];
  rows: Array<Array<string | number>>;
  /** This configuration's bars in the scenario's chart, by series name. */
  bars: Array<{ name: string; value: number }>;
  /** Parts of the scenario left out for this source, and why. */
  notes?: string[];
  data: unknown;
}

/** How a scenario runs once per configuration, or against a running server. */
export interface Comparison {
  /** Why the scenario cannot run against a server the bench did not start; absent when it can. */
  notFromOutside?: string;
  method(settings: BenchSettings, external: boolean): string;
  chart: { title: string; yLabel: string; log?: boolean };
  measure(source: ServerSource, settings: BenchSettings, log: (line: string) => void): Promise<Measured>;
}

export interface Scenario {
  id: string;
  title: string;
  run(settings: BenchSettings, log: (line: string) => void): Promise<ScenarioResult>;
  /**
   * The scenario's charts, from its result's `data` alone: run() draws them
   * this way, and bench/redraw.ts draws them again from a results.json after
   * the drawing code changes, without measuring anything again.
   */
  draw?(data: any): Chart[];
  /** Absent: the scenario compares its own fixed settings and runs only in the default suite. */
  compare?: Comparison;
  /** Why `--configs` leaves this scenario out (it has no `compare`). */
  notPerConfiguration?: string;
  /** Why `--url` leaves this scenario out, when it has no `compare`. */
  notFromOutside?: string;
}

export const fmt = (value: number, digits = 2): string =>
  Number.isFinite(value) ? String(Math.round(value * 10 ** digits) / 10 ** digits) : 'n/a';
