/**
 * The docs state behaviour; these tests keep the parts that drift easiest
 * true: every variable the config reads is in the README's configuration
 * table (and nothing else is), every API route is in docs/api.md, the
 * README's benchmark figures are the report's, its client examples
 * retry, and docs/testing.md names every test file and the ones CI runs on
 * every Node line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createRoutes, type RouteDeps } from '../src/http/routes.js';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
const api = read('docs/api.md');
const report = read('bench/results/report.md');

/** Every key `loadConfig` looks at, recorded through a proxy. */
function variablesRead(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(_target, key) {
      if (typeof key === 'string') read.add(key);
      return undefined;
    },
  });
  loadConfig(env);
  return read;
}

describe('README configuration table', () => {
  const documented = new Set([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((match) => match[1]!));

  test('lists every variable the config reads', () => {
    const missing = [...variablesRead()].filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });

  test('lists no variable the config ignores', () => {
    const read = variablesRead();
    expect([...documented].filter((name) => !read.has(name))).toEqual([]);
  });
});

describe('docs/api.md', () => {
  test('documents every route', () => {
    // Handlers are only built here, never called, so the deps can be all but
    // empty; an API key registers the server API's routes too.
    const routes = createRoutes({ config: { apiKey: 'k'.repeat(16) } } as RouteDeps);
    const isPageFile = (path: string): boolean => /^\/[\w-]+\.\w+$/.test(path);
    const missing = routes
      .filter(([, path]) => !isPageFile(path))
      .map(([method, path]) => `${method} ${path}`)
      .filter((route) => !new RegExp(`\`${route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\`?\\s]`).test(api));
    expect(missing).toEqual([]);
  });
});

describe('README figures from bench/results/report.md', () => {
  test("the per-thread RSS is the report's, stated once", () => {
    const measured = /RSS \(≈ ([\d.]+) MiB per thread\)/.exec(report)?.[1];
    expect(measured, "the report's pool-capacity table title gives the per-thread RSS").toBeDefined();
    // Any sentence that puts MiB and "thread" together is a per-thread figure.
    const sentences = readme.split(/(?<=[.!?])\s+/).filter((sentence) => /MiB/.test(sentence) && /\bthreads?\b/.test(sentence));
    expect(sentences).toHaveLength(1);
    expect(sentences[0]).toContain(`≈ ${measured} MiB of RSS`);
    // Every other figure in it is one the report's section gives too.
    const section = report.slice(report.indexOf('## Pool capacity and memory per thread'));
    for (const [figure] of sentences[0]!.matchAll(/≈ [\d.]+ MiB/g)) expect(section).toContain(figure);
  });

  // The full suite's duration, wherever the README gives one: "about N min" on a line that runs it.
  const durations = readme
    .split('\n')
    .filter((line) => /npm run bench(?!\s+--)/.test(line) || /bench\/results\/report\.md/.test(line))
    .flatMap((line) => [...line.matchAll(/about (\d+(?:\.\d+)?) min/g)].map((match) => Number(match[1])));
  // "- Duration: 12 min 58 s (…)", as bench/lib/report.ts writes it, in whole minutes.
  const duration = /^- Duration: (?:(\d+) min)? ?(?:(\d+) s)?/m.exec(report);
  const reported =
    duration && (duration[1] ?? duration[2]) !== undefined
      ? Math.round(Number(duration[1] ?? 0) + Number(duration[2] ?? 0) / 60)
      : undefined;

  test("the full bench's duration is stated once", () => {
    expect(durations).toHaveLength(1);
  });

  test.skipIf(reported === undefined)("the full bench's duration is the report's (skipped: the report records none)", () => {
    expect(durations[0]).toBe(reported);
  });

  test("the bench's root requirement quotes the reason hosts-netns gives when it skips", () => {
    const scenario = read('bench/scenarios/hosts-netns.ts');
    const reason = /uid !== 0\) return '([^']+)'/.exec(scenario)?.[1];
    expect(reason).toBeDefined();
    expect(readme.replace(/\s+/g, ' ')).toContain(`"${reason}"`);
  });
});

describe('user-facing text', () => {
  const pages = ['README.md', 'docs/operations.md', 'docs/testing.md', 'docs/security.md', 'docs/performance.md'];

  test.each(pages)('%s names no issue by number (it says what is meant)', (page) => {
    expect(read(page).match(/.{0,30}\bissues? #?\d+.{0,30}/gi) ?? []).toEqual([]);
  });
});

describe('README client examples', () => {
  const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const clients = examples.filter((code) => /\$\.post\(|new EventSource\(|fetch\(/.test(code));

  test('there are clients to check', () => {
    expect(clients.length).toBeGreaterThanOrEqual(2);
  });

  test('every client retries after a failure, waiting as Retry-After says', () => {
    for (const code of clients) {
      // A jQuery request needs a .fail, a stream an onerror; both schedule the next try through retryDelay.
      if (code.includes('$.post(')) expect(code, code).toMatch(/\.fail\(/);
      if (code.includes('new EventSource(')) expect(code, code).toMatch(/onerror/);
      expect(code, code).toMatch(/setTimeout\(\w+, retryDelay\(/);
    }
    const helper = examples.find((code) => code.includes('function retryDelay('));
    expect(helper, 'retryDelay is defined in an example').toBeDefined();
  });

  test('retryDelay honours Retry-After and backs off', () => {
    const source = examples.find((code) => code.includes('function retryDelay('))!;
    const retryDelay = new Function(`${source}; return retryDelay;`)() as (retryAfter: string | null, failures: number) => number;
    for (let failures = 1; failures <= 12; failures++) {
      const backoff = Math.min(30_000, 500 * 2 ** failures);
      const plain = retryDelay(null, failures);
      expect(plain).toBeGreaterThanOrEqual(backoff / 2);
      expect(plain).toBeLessThanOrEqual(backoff);
      expect(retryDelay('2', failures)).toBeGreaterThanOrEqual(2000);
      expect(retryDelay('120', failures)).toBe(120_000);
    }
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(retryDelay(inAMinute, 1)).toBeGreaterThan(55_000);
    expect(retryDelay('garbage', 1)).toBeLessThanOrEqual(1000);
  });
});

describe('docs/testing.md', () => {
  const testing = read('docs/testing.md');
  const listed = (name: string): RegExpMatchArray | null =>
    testing.match(new RegExp(`\`${name.replace('.', '\\.')}\`( \\(\\*lines\\*\\))?`));

  test('names every test file', () => {
    const files = readdirSync(new URL('../test/', import.meta.url)).filter((name) => name.endsWith('.test.ts'));
    expect(files.filter((name) => !listed(name))).toEqual([]);
  });

  test('marks exactly the files npm run test:lines runs on the other Node lines', () => {
    const script: string = JSON.parse(read('package.json')).scripts['test:lines'];
    const run = [...script.matchAll(/test\/([\w-]+\.test\.ts)/g)].map((match) => match[1]!).sort();
    const marked = [...testing.matchAll(/`([\w-]+\.test\.ts)` \(\*lines\*\)/g)].map((match) => match[1]!).sort();
    expect(marked).toEqual(run);
  });
});
