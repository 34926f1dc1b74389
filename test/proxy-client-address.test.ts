/**
 * The address a request's fair share is counted under, from the socket peer,
 * X-Forwarded-For and X-Real-IP. A client's own words must never choose it:
 * not a well-formed X-Forwarded-For prefix, and not a malformed one that
 * makes the resolver give up on the header and believe something else.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createAddressResolver, isLoopback } from '../src/http/client-address.js';

const request = (remoteAddress: string | undefined, headers: Record<string, string | string[]>) =>
  ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

const LOOPBACK = ['loopback'];
/** Pollster behind one proxy at 10.0.0.1, reached over the network. */
const PROXY = ['10.0.0.1'];
/** Two proxies: a load balancer at 10.0.0.1 in front of a proxy at 10.0.0.2. */
const CHAIN = ['10.0.0.1', '10.0.0.2'];

describe('createAddressResolver', () => {
  it.each<[string, string | undefined, Record<string, string | string[]>, readonly string[], string]>([
    // what, peer, headers, TRUST_PROXY, address used
    [
      'an untrusted peer is itself, whatever it says',
      '203.0.113.5',
      { 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '1.2.3.5' },
      LOOPBACK,
      '203.0.113.5',
    ],
    ['TRUST_PROXY=none believes no header', '127.0.0.1', { 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '1.2.3.5' }, [], '127.0.0.1'],
    ['a trusted peer names the client', '127.0.0.1', { 'x-forwarded-for': '1.2.3.4' }, LOOPBACK, '1.2.3.4'],
    ['a unix-socket peer is loopback', undefined, { 'x-forwarded-for': '1.2.3.4' }, LOOPBACK, '1.2.3.4'],
    ['an IPv4-mapped peer is trusted by its IPv4 address', '::ffff:10.0.0.1', { 'x-forwarded-for': '1.2.3.4' }, PROXY, '1.2.3.4'],
    [
      'entries a client wrote left of the real one prove nothing',
      '127.0.0.1',
      { 'x-forwarded-for': '6.6.6.6, 1.2.3.4' },
      LOOPBACK,
      '1.2.3.4',
    ],
    ['trusted hops are walked past, from the right', '10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 1.2.3.4, 10.0.0.1' }, CHAIN, '1.2.3.4'],
    [
      'every hop trusted: the leftmost is the client (a client on loopback)',
      '127.0.0.1',
      { 'x-forwarded-for': '127.0.0.2' },
      LOOPBACK,
      '127.0.0.2',
    ],
    ['repeated headers read as one list', '127.0.0.1', { 'x-forwarded-for': ['6.6.6.6', '1.2.3.4'] }, LOOPBACK, '1.2.3.4'],
    ['spaces around entries are ignored', '127.0.0.1', { 'x-forwarded-for': ' 6.6.6.6 ,1.2.3.4 ' }, LOOPBACK, '1.2.3.4'],
    ['IPv6 clients', '127.0.0.1', { 'x-forwarded-for': '2001:db8::7' }, LOOPBACK, '2001:db8::7'],

    // The attack: a malformed entry must not hand the choice to X-Real-IP.
    [
      '"unknown" then the proxy\'s entry: the proxy\'s entry, not X-Real-IP',
      '127.0.0.1',
      { 'x-forwarded-for': 'unknown, 198.51.100.7', 'x-real-ip': '10.9.9.9' },
      LOOPBACK,
      '198.51.100.7',
    ],
    [
      'only "unknown": the trusted peer, not X-Real-IP',
      '127.0.0.1',
      { 'x-forwarded-for': 'unknown', 'x-real-ip': '10.9.9.9' },
      LOOPBACK,
      '127.0.0.1',
    ],
    ['garbage from a unix-socket peer: that peer', undefined, { 'x-forwarded-for': 'garbage', 'x-real-ip': '1.2.3.4' }, LOOPBACK, 'unix'],
    [
      'garbage behind a trusted hop: that hop',
      '10.0.0.2',
      { 'x-forwarded-for': 'unknown, 10.0.0.1', 'x-real-ip': '1.2.3.4' },
      CHAIN,
      '10.0.0.1',
    ],
    [
      'a trusted client on loopback writing garbage: its own address',
      '127.0.0.1',
      { 'x-forwarded-for': 'unknown, 127.0.0.2', 'x-real-ip': '10.9.9.9' },
      LOOPBACK,
      '127.0.0.2',
    ],
    [
      'garbage right of a valid entry: stops at the garbage',
      '127.0.0.1',
      { 'x-forwarded-for': '1.2.3.4, _hidden', 'x-real-ip': '10.9.9.9' },
      LOOPBACK,
      '127.0.0.1',
    ],
    [
      'an address with a port is not an address',
      '127.0.0.1',
      { 'x-forwarded-for': '1.2.3.4:5678', 'x-real-ip': '10.9.9.9' },
      LOOPBACK,
      '127.0.0.1',
    ],
    ['an empty entry is garbage too', '127.0.0.1', { 'x-forwarded-for': '1.2.3.4,', 'x-real-ip': '10.9.9.9' }, LOOPBACK, '127.0.0.1'],
    ['an empty header is garbage, not absent', '127.0.0.1', { 'x-forwarded-for': '', 'x-real-ip': '10.9.9.9' }, LOOPBACK, '127.0.0.1'],
    ['"unix" cannot be claimed', '127.0.0.1', { 'x-forwarded-for': 'unix' }, LOOPBACK, '127.0.0.1'],
    [
      'a valid X-Forwarded-For always wins over X-Real-IP',
      '127.0.0.1',
      { 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '10.9.9.9' },
      LOOPBACK,
      '1.2.3.4',
    ],

    // X-Real-IP only without X-Forwarded-For, and only from a trusted peer.
    ['X-Real-IP alone from a trusted peer', '::ffff:127.0.0.1', { 'x-real-ip': '1.2.3.4' }, LOOPBACK, '1.2.3.4'],
    ['X-Real-IP alone from an untrusted peer', '203.0.113.5', { 'x-real-ip': '1.2.3.4' }, LOOPBACK, '203.0.113.5'],
    ['X-Real-IP that is not an address', '127.0.0.1', { 'x-real-ip': 'unknown' }, LOOPBACK, '127.0.0.1'],
    ['X-Real-IP sent twice', '127.0.0.1', { 'x-real-ip': ['1.2.3.4', '5.6.7.8'] }, LOOPBACK, '127.0.0.1'],
    ['no headers at all', '127.0.0.1', {}, LOOPBACK, '127.0.0.1'],
  ])('%s', (_what, peer, headers, trusted, expected) => {
    expect(createAddressResolver(trusted)(request(peer, headers))).toBe(expected);
  });

  it('gives one client one address however it varies the headers it sends itself', () => {
    // What nginx-hosts.conf forwarded before it set X-Real-IP: the client's own
    // X-Forwarded-For with the proxy's entry appended, and the client's own X-Real-IP.
    const resolve = createAddressResolver(LOOPBACK);
    const spoofs = ['unknown', 'unknown, unknown', '_hidden', '1.2.3.4:80', 'a, 203.0.113.9', '', ' ', 'for=192.0.2.60', '[2001:db8::1]'];
    const seen = new Set<string>();
    for (const [n, spoof] of spoofs.entries()) {
      seen.add(resolve(request('127.0.0.1', { 'x-forwarded-for': `${spoof}, 198.51.100.7`, 'x-real-ip': `10.0.${n}.1` })));
    }
    expect([...seen]).toEqual(['198.51.100.7']);
  });
});

describe('isLoopback', () => {
  it.each([
    ['unix', true],
    ['::1', true],
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::ffff:127.0.0.1', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['::2', false],
  ])('%s → %s', (address, expected) => {
    expect(isLoopback(address)).toBe(expected);
  });
});
