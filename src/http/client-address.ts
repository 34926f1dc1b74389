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
    if (forwarded !== undefined) {
      // Each proxy appends the address it saw: walk back from the right past
      // trusted proxies; the first other one is the client. Entries further
      // left were written by the client itself and prove nothing.
      const hops = forwarded.split(',').map((hop) => hop.trim());
      if (hops.every((hop) => isIP(hop) !== 0)) {
        for (let i = hops.length - 1; i >= 0; i--) {
          if (!isTrusted(hops[i]!) || i === 0) return hops[i]!;
        }
      }
    }
    const real = headerText(req.headers['x-real-ip'])?.trim();
    if (real !== undefined && isIP(real) !== 0) return real;
    return peer;
  };
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
