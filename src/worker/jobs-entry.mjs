// Piscina's entry for the /hello lane's threads when Pollster runs from
// TypeScript source; see typescript-entry.mjs for why tsx is registered here.
// Built code loads dist/worker/jobs.js directly.
import { register } from 'tsx/esm/api';

register();
const jobs = await import('./jobs.ts');

export const { sleep } = jobs;
