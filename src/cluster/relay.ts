/**
 * Cross-process wake-ups for `WEB_CONCURRENCY` > 1. Each process has its own
 * board, so a post in one process is announced to the primary, which relays
 * it to every other process; each then raises its board and wakes its polls
 * within milliseconds. (SQLite's data_version would notice too, but only on
 * the watcher's next tick.)
 */
import cluster from 'node:cluster';

export interface PublishRelay {
  /** Tell the other processes that `messageId` was stored on `wallId`. */
  announce(wallId: number, messageId: number): void;
  /** Called for every message another process stored. */
  onRemote(handler: (wallId: number, messageId: number) => void): void;
}

interface PublishedMessage {
  type: 'pollster:published';
  wallId: number;
  messageId: number;
}

export function isPublished(message: unknown): message is PublishedMessage {
  const m = message as PublishedMessage | null;
  return m?.type === 'pollster:published' && Number.isSafeInteger(m.wallId) && Number.isSafeInteger(m.messageId);
}

/** The relay for a cluster worker process; undefined when not running under cluster. */
export function workerRelay(): PublishRelay | undefined {
  if (!cluster.isWorker || !process.send) return undefined;
  return {
    announce(wallId, messageId) {
      const message: PublishedMessage = { type: 'pollster:published', wallId, messageId };
      process.send!(message);
    },
    onRemote(handler) {
      process.on('message', (message) => {
        if (isPublished(message)) handler(message.wallId, message.messageId);
      });
    },
  };
}
