/**
 * The delivery promise of the sustained-throughput scenario, checked from
 * what the clients really received: every client gets every message of its
 * walls exactly once, in order, and the post-to-receipt p99 stays within the
 * limit. Plain data in, figures out, so test/bench-sustained.test.ts can feed
 * it made-up deliveries.
 */

/** One message a poster sent during a step. */
export interface SentPost {
  /** The server's message id (Pollster), or the bench's own sequence number carried in the content (Nchan). */
  id: number;
  wall: number;
  /** performance.now() when its request was written. */
  sentAt: number;
}

/** What one subscriber received, in arrival order, since it was opened: three parallel arrays. */
export interface DeliveryLog {
  ids: number[];
  walls: number[];
  /** performance.now() when the answer or event carrying it arrived. */
  at: number[];
}

export interface Follower {
  kind: 'poll' | 'stream';
  walls: readonly number[];
  log: DeliveryLog;
}

export interface DeliveryCheck {
  /** Deliveries owed: each post once to every follower of its wall. */
  expected: number;
  /** Deliveries that arrived (first copies only). */
  delivered: number;
  missing: number;
  /** Copies of a message a follower already had. */
  duplicates: number;
  /** Messages that arrived after a newer one of the same wall (a poll), or of the same stream. */
  outOfOrder: number;
  /** Messages of a wall the follower does not follow. */
  foreign: number;
  /** Post-to-receipt, ms, over every first copy. */
  p50: number;
  p99: number;
  max: number;
  /** Deliveries that took longer than the limit. */
  late: number;
  /** Posts that reached every follower of their wall within the limit. */
  onTime: number;
  /** The promise held: nothing missing, duplicated, reordered or foreign, and p99 within the limit. */
  holds: boolean;
  /** Why not, in words; empty when it holds. */
  broken: string[];
}

/**
 * Checks `posts` (one step's) against every follower's whole log. Order is
 * judged over the whole log, so a message of this step that arrives after a
 * newer message of a later step still counts as out of order here.
 */
export function checkDeliveries(posts: readonly SentPost[], followers: readonly Follower[], limitMs: number): DeliveryCheck {
  const index = new Map<number, number>(posts.map((post, i) => [post.id, i]));
  const followersOf = new Map<number, number>();
  for (const follower of followers) for (const wall of follower.walls) followersOf.set(wall, (followersOf.get(wall) ?? 0) + 1);
  // Per post: how many followers have it, and how many had it within the limit.
  const reached = new Uint32Array(posts.length);
  const reachedInTime = new Uint32Array(posts.length);
  const latencies: number[] = [];
  let duplicates = 0;
  let outOfOrder = 0;
  let foreign = 0;
  let late = 0;
  for (const follower of followers) {
    const seen = new Uint8Array(posts.length);
    const follows = new Set(follower.walls);
    // The newest id so far: per wall for a poll (one cursor each), for the whole stream otherwise (one cursor for all its walls).
    const newest = new Map<number, number>();
    const { ids, walls, at } = follower.log;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const wall = walls[i]!;
      const key = follower.kind === 'poll' ? wall : 0;
      const previous = newest.get(key) ?? -Infinity;
      const slot = index.get(id);
      if (id > previous) newest.set(key, id);
      if (slot === undefined) continue;
      if (!follows.has(wall) || posts[slot]!.wall !== wall) {
        foreign++;
        continue;
      }
      if (seen[slot]) {
        duplicates++;
        continue;
      }
      seen[slot] = 1;
      if (id < previous) outOfOrder++;
      const latency = at[i]! - posts[slot]!.sentAt;
      latencies.push(latency);
      reached[slot]!++;
      if (latency <= limitMs) reachedInTime[slot]!++;
      else late++;
    }
  }
  let expected = 0;
  let onTime = 0;
  posts.forEach((post, i) => {
    const owed = followersOf.get(post.wall) ?? 0;
    expected += owed;
    if (reachedInTime[i] === owed) onTime++;
  });
  const delivered = latencies.length;
  // Sorted once: a step of the full run has a few hundred thousand deliveries.
  const sorted = Float64Array.from(latencies).sort();
  const rank = (p: number): number =>
    delivered ? sorted[Math.min(delivered - 1, Math.max(0, Math.ceil((p / 100) * delivered) - 1))]! : NaN;
  const p99 = rank(99);
  const broken: string[] = [];
  if (expected - delivered > 0) broken.push(`${expected - delivered} of ${expected} deliveries missing`);
  if (duplicates) broken.push(`${duplicates} duplicates`);
  if (outOfOrder) broken.push(`${outOfOrder} out of order`);
  if (foreign) broken.push(`${foreign} of walls not followed`);
  if (!(p99 <= limitMs)) broken.push(Number.isFinite(p99) ? `p99 ${Math.round(p99)} ms > ${limitMs} ms` : 'nothing delivered');
  return {
    expected,
    delivered,
    missing: expected - delivered,
    duplicates,
    outOfOrder,
    foreign,
    p50: rank(50),
    p99,
    max: delivered ? sorted[delivered - 1]! : NaN,
    late,
    onTime,
    holds: broken.length === 0,
    broken,
  };
}
