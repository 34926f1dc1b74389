/**
 * The docs state behaviour; these tests keep the parts that drift easiest
 * true: every variable the config reads is in the README's configuration
 * table (and nothing else is), and every API route is in docs/api.md.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createRoutes, type RouteDeps } from '../src/http/routes.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const api = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');

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
    // Handlers are only built here, never called, so the deps can be empty.
    const routes = createRoutes({} as RouteDeps);
    const isPageFile = (path: string): boolean => /^\/[\w-]+\.\w+$/.test(path);
    const missing = routes
      .filter(([, path]) => !isPageFile(path))
      .map(([method, path]) => `${method} ${path}`)
      .filter((route) => !new RegExp('`' + route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '[`?\\s]').test(api));
    expect(missing).toEqual([]);
  });
});
