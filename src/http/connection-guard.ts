/**
 * Bounds on what one keep-alive connection may cost. Node parses every
 * request a client pipelines and queues an answer for each, whether or not
 * the client reads them: 50 connections that wrote 20,000 `GET /ping` each
 * and never read held 466,610 queued answers and 550 MiB, and another
 * client's `/ping` waited 17 s. So a connection may have only so many
 * requests unanswered, and so many answer bytes unread; past either it is cut.
 * (Node's own `maxRequestsPerSocket` caps the requests a connection serves in
 * all, as nginx's `keepalive_requests` does.)
 */
import type { Socket } from 'node:net';

/** Requests one connection may serve before it must reconnect (nginx's keepalive_requests). */
export const MAX_REQUESTS_PER_CONNECTION = 1000;
/** Requests on one connection whose answers are not finished yet: browsers never pipeline, a flood does. */
export const MAX_PIPELINED = 64;
/** Answer bytes written to a connection that its client has not read yet. */
export const MAX_UNREAD_BYTES = 1024 * 1024;

const unanswered = new WeakMap<Socket, number>();

/**
 * Counts a request on `socket`; false (and the connection cut) when the
 * connection is over a bound. Every true must be matched by `answered`.
 */
export function admitOnConnection(socket: Socket): boolean {
  const count = (unanswered.get(socket) ?? 0) + 1;
  if (count > MAX_PIPELINED || socket.writableLength > MAX_UNREAD_BYTES) {
    socket.destroy();
    return false;
  }
  unanswered.set(socket, count);
  return true;
}

/** The answer to a request admitted on `socket` is finished, or its client left. */
export function answered(socket: Socket): void {
  const count = (unanswered.get(socket) ?? 1) - 1;
  if (count > 0) unanswered.set(socket, count);
  else unanswered.delete(socket);
}
