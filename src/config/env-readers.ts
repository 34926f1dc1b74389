/** Reading one variable of the environment, with the one-line error that names it. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

export function integer(env: Env, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${key} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`${key} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

export function oneOf<T extends string>(env: Env, key: string, choices: readonly T[], fallback: T): T {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim() as T;
  if (!choices.includes(value)) {
    throw new ConfigError(`${key} must be one of ${choices.join(', ')} (got "${raw}")`);
  }
  return value;
}

export function text(env: Env, key: string, fallback: string): string {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.trim();
}
