/**
 * The client's address, for per-client caps. Behind a proxy every request
 * comes from the proxy, so `X-Forwarded-For` / `X-Real-IP` are read — but only
 * when the peer is listed in TRUST_PROXY: anyone else could write any address
 * there and claim a fresh share with every request.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** The peer of a unix-socket connection has no address. */
const UNIX_PEER = 'unix';

export function isLoopback(address: string): boolean {
  return address === UNIX_PEER || address === '::1' || /^(::ffff:)?127\./.test(address);
}

/** `trusted`: `loopback` (127.0.0.0/8, ::1, unix sockets) and exact IP addresses. */
export function createAddressResolver(trusted: readonly string[]): (req: IncomingMessage) => string {
  const exact = new Set(trusted.filter((entry) => entry !== 'loopback'));
  const loopback = trusted.includes('loopback');
  const isTrusted = (address: string): boolean =>
    exact.has(address) || exact.has(address.replace(/^::ffff:/, '')) || (loopback && isLoopback(address));

  return (req) => {
    const peer = req.socket.remoteAddress ?? UNIX_PEER;
    if (!isTrusted(peer)) return peer;
    const forwarded = headerText(req.headers['x-forwarded-for']);
    if (forwarded !== undefined) return walkForwarded(forwarded.split(','), peer, isTrusted);
    // Without X-Forwarded-For a trusted proxy may name the client here alone.
    // Never as a fallback for an X-Forwarded-For that did not parse: a proxy
    // that passes the client's own X-Real-IP on would let the client choose
    // its address by sending `X-Forwarded-For: unknown` with it.
    const real = headerText(req.headers['x-real-ip'])?.trim();
    return real !== undefined && isIP(real) !== 0 ? real : peer;
  };
}

/**
 * Each proxy appends the address it saw, so the list is read from the right:
 * an entry written by a trusted hop is true, and each trusted address in it
 * vouches for the entry left of it. The first untrusted entry is the client.
 * Entries further left were written by the client itself and prove nothing;
 * so does an entry that is not an address (`unknown`, a port, garbage): the
 * walk stops there and the nearest address known to be true — the last
 * trusted hop, or the socket peer — is counted instead.
 */
function walkForwarded(hops: readonly string[], peer: string, isTrusted: (address: string) => boolean): string {
  let nearest = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (isIP(hop) === 0) return nearest;
    if (!isTrusted(hop)) return hop;
    nearest = hop;
  }
  return nearest;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
