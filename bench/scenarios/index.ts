/** The scenarios of `npm run bench`, registered in one place for bench/run.ts and bench/redraw.ts. */
import type { Scenario } from '../lib/scenario.js';
import { deliveryLatency } from './delivery-latency.js';
import { emDefer } from './em-defer.js';
import { emDeferComparison } from './em-defer-compare.js';
import { fanOut } from './fan-out.js';
import { heldPolls } from './held-polls.js';
import { historyPruning } from './history-pruning.js';
import { hosts } from './hosts.js';
import { hostsNetns } from './hosts-netns.js';
import { hostileNeighbours } from './hostile-neighbours.js';
import { poolCapacity } from './pool-capacity.js';
import { shortVsLong } from './short-vs-long.js';
import { stuckPolls } from './stuck-polls.js';
import { sustained } from './sustained.js';
import { tokenAuth } from './token-auth.js';
import { vsBaseline } from './vs-baseline.js';

/** Every scenario, in the order they run. A new one goes here and nowhere else. */
export const scenarios: Scenario[] = [
  stuckPolls,
  deliveryLatency,
  fanOut,
  poolCapacity,
  { ...emDefer, compare: emDeferComparison },
  shortVsLong,
  heldPolls,
  vsBaseline,
  hosts,
  hostsNetns,
  hostileNeighbours,
  sustained,
  historyPruning,
  tokenAuth,
];
