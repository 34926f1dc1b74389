/**
 * The import rules of src/ (.dependency-cruiser.cjs): the tree passes them,
 * and a cycle or an import running against the layers fails them (a fixture
 * tree with one of each).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cruise, type IConfiguration, type ICruiseResult } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = createRequire(import.meta.url)('../.dependency-cruiser.cjs') as IConfiguration;

/** Each rule broken, as `rule: from → to`, and how many modules were read. */
async function cruiseSrc(baseDir: string): Promise<{ violations: string[]; modules: number }> {
  const result = await cruise(['src'], { ...config.options, ruleSet: { forbidden: config.forbidden }, validate: true, baseDir });
  const { summary } = result.output as ICruiseResult;
  return { violations: summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`), modules: summary.totalCruised };
}

describe('import rules', () => {
  it('src/ has no cycle and no import against the layers', async () => {
    const { violations, modules } = await cruiseSrc(root);
    expect(modules).toBeGreaterThan(50);
    expect(violations).toEqual([]);
  });

  it('a cycle and an upward import fail them', async () => {
    const { violations: found } = await cruiseSrc(fileURLToPath(new URL('./fixtures/architecture', import.meta.url)));
    expect(found).toContain('shared-is-a-leaf: src/shared/board.ts → src/poll/runner.ts');
    expect(found.some((line) => line.startsWith('no-circular: src/http/'))).toBe(true);
  });
});
