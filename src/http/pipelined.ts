/**
 * Bookkeeping for responses pipelined behind another on a keep-alive
 * connection: Node hands such a response its socket only once the answers
 * ahead of it are written.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Per socket, the responses pipelined on it that Node has not handed it yet.
 * If the client closes the connection first, Node never closes them, and a
 * wait among them would keep its place until its timeout; so the socket's
 * close closes them. One listener per socket however many are queued (one
 * each would trip Node's max-listeners warning on a flood).
 */
const queuedOnSocket = new WeakMap<Socket, Set<ServerResponse>>();
/** Per socket, `bytesWritten` when Node last handed it to a queued response. */
const handedOverAt = new WeakMap<Socket, number>();

/** Closes `res` when `socket` closes before Node hands it over. */
export function closeWithSocket(socket: Socket, res: ServerResponse): void {
  let queued = queuedOnSocket.get(socket);
  if (!queued) {
    const waiting = new Set<ServerResponse>();
    queued = waiting;
    queuedOnSocket.set(socket, waiting);
    socket.once('close', () => {
      queuedOnSocket.delete(socket);
      for (const response of waiting) response.emit('close');
    });
  }
  queued.add(res);
  // From here on Node closes it with the socket.
  res.once('socket', () => {
    queued.delete(res);
    handedOverAt.set(socket, socket.bytesWritten);
  });
}

/**
 * Where the answer that began at `start` on `socket` ended. By its 'close' the
 * next pipelined answer may be on the socket too; if one was handed the
 * socket since, this one ended where that one began.
 */
export function answerEnd(socket: Socket, start: number): number {
  const next = handedOverAt.get(socket);
  return next !== undefined && next > start ? next : socket.bytesWritten;
}
