/**
 * What the scheduler refuses with. These know nothing of HTTP: the request
 * handler maps each to its status in one place (`http/error-mapping.ts`).
 */

/** Every task slot is taken and the queue is at MAX_QUEUE. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor() {
    super('the task queue is full');
  }
}

/** The runner is closing: nothing new starts. */
export class ShuttingDownError extends Error {
  override name = 'ShuttingDownError';
  constructor() {
    super('shutting down');
  }
}

/** The session or the client address already holds its share of the waits. */
export class WaitCapError extends Error {
  override name = 'WaitCapError';
  constructor() {
    super('too many concurrent waits');
  }
}
