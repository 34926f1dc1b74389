// Piscina's entry for worker threads when Pollster runs from TypeScript source
// (tsx, vitest). On Node 20, loader hooks given to the main thread through
// `--import tsx` do not reach worker threads, so each worker registers tsx
// itself before loading the real worker module. Built code (`npm start`)
// loads dist/worker/tasks.js directly and never uses this file.
import { register } from 'tsx/esm/api';

register();
const tasks = await import('./tasks.ts');

export const { poll, pollMultiplexed, sleep } = tasks;
