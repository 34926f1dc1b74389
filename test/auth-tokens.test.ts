/**
 * AUTH=jwt against real servers: tokens minted independently (node:crypto by
 * hand, never jose) are accepted wherever a session id is; every hostile
 * token is refused with 401 on every route and logged with its reason but
 * never its text; each hostile case has a twin that differs only in the
 * defect and is accepted, so a check that stopped biting fails the test.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../src/auth/token-verifier.js';
import { loadConfig } from '../src/config.js';
import { type Claims, claims, hs256, keyPair, nowS, SECRET, signingInput, signWith } from './helpers/jwt.js';
import { captureLog, type CapturedLog } from './helpers/log.js';
import { newestOn, startTestServer, type TestServer } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

const ISSUER = 'https://app.example';
const AUDIENCE = 'pollster';
const JWT_ENV = { AUTH: 'jwt', JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };

/** Valid claims for `sub` with this server's issuer and audience. */
const valid = (sub = 'carol', extra: Claims = {}): Claims => claims(sub, 300, { iss: ISSUER, aud: AUDIENCE, ...extra });

async function jwtServer(env: Record<string, string> = {}): Promise<{ server: TestServer; log: CapturedLog }> {
  const log = captureLog('info');
  const server = await startTestServer({ ...JWT_ENV, ...env }, log.logger);
  return { server, log };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('tokens minted by other libraries are accepted', () => {
  it('HS256 signed by hand with HMAC-SHA256, as a Bearer header', async () => {
    const { server } = await jwtServer();
    const reply = await server.call('GET', '/walls', bearer(hs256(valid('alice'))));
    expect(reply.status).toBe(200);
    // alice is a seeded member of General only.
    expect(reply.json.walls.map((wall: { id: number }) => wall.id)).toEqual([1]);
  });

  it.each(['RS256', 'ES256', 'EdDSA'] as const)('%s signed with node:crypto sign', async (alg) => {
    const pair = keyPair(alg);
    const server = await startTestServer({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: pair.file });
    const reply = await server.call('GET', '/walls', bearer(signWith(pair, claims('bob'))));
    expect(reply.status).toBe(200);
    expect(reply.json.walls.map((wall: { id: number }) => wall.id)).toEqual([2, 3]);
    // The same claims signed with another key of the same kind: refused.
    expect((await server.call('GET', '/walls', bearer(signWith(keyPair(alg), claims('bob'))))).status).toBe(401);
  });

  it('with openssl, as an application written in another language would sign', async () => {
    const { execFileSync } = await import('node:child_process');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const pair = keyPair('RS256');
    const keyFile = join(pair.file, '..', 'private.pem');
    writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const input = signingInput({ alg: 'RS256', typ: 'JWT' }, claims('bob'));
    const signature = execFileSync('openssl', ['dgst', '-sha256', '-sign', keyFile], { input }).toString('base64url');
    const server = await startTestServer({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: pair.file });
    expect((await server.call('GET', '/walls', bearer(`${input}.${signature}`))).status).toBe(200);
  });

  it('a token names a user the first time Pollster sees it, once', async () => {
    const { server } = await jwtServer();
    expect(await server.pollster.store.userByName('zoë')).toBeUndefined();
    for (let i = 0; i < 2; i++) {
      const reply = await server.call('GET', '/walls', bearer(hs256(valid('zoë', { iat: nowS() - i }))));
      expect(reply.status).toBe(200);
      // New users belong to no wall: their own walls are none, the public ones still readable.
      expect(reply.json.walls).toEqual([]);
    }
    const zoe = await server.pollster.store.userByName('zoë');
    expect(zoe).toMatchObject({ name: 'zoë' });
    const posted = await server.call('POST', '/walls/1/messages', { ...bearer(hs256(valid('zoë'))), body: { content: 'hi' } });
    expect(posted.status).toBe(403);
  });

  it('rotation: the current and the previous secret both verify, a third does not', async () => {
    const previous = 'the previous secret, still trusted while tokens signed with it live';
    const { server } = await jwtServer({ JWT_SECRET_PREVIOUS: previous });
    expect((await server.call('GET', '/walls', bearer(hs256(valid(), previous)))).status).toBe(200);
    expect((await server.call('GET', '/walls', bearer(hs256(valid())))).status).toBe(200);
    expect((await server.call('GET', '/walls', bearer(hs256(valid(), 'x'.repeat(40))))).status).toBe(401);
  });

  it('rotation: every key of a key file verifies', async () => {
    const { writeFileSync } = await import('node:fs');
    const current = keyPair('ES256');
    const old = keyPair('RS256');
    writeFileSync(current.file, `${current.pem}${old.pem}`);
    const server = await startTestServer({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: current.file });
    expect((await server.call('GET', '/walls', bearer(signWith(current, claims('bob'))))).status).toBe(200);
    expect((await server.call('GET', '/walls', bearer(signWith(old, claims('bob'))))).status).toBe(200);
  });
});

// ── Hostile tokens ─────────────────────────────────────────────────────────

interface HostileCase {
  name: string;
  /** The refusal reason the log must give. */
  reason: string;
  message?: 'Invalid token' | 'Token expired';
  bad: () => string;
  /** Differs from `bad` only in the defect: accepted. */
  twin: () => string;
}

const tamper = (token: string, payload: Claims): string => {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
};
const hs512 = (payload: Claims): string => {
  const input = signingInput({ alg: 'HS512', typ: 'JWT' }, payload);
  return `${input}.${createHmac('sha512', SECRET).update(input).digest('base64url')}`;
};
/** JSON text with a lone surrogate escaped, as a careless encoder writes it. */
const withRawSub = (sub: string): string => JSON.stringify(valid('x')).replace('"sub":"x"', `"sub":${sub}`);

const HOSTILE: HostileCase[] = [
  { name: 'alg none', reason: 'algorithm', bad: () => `${signingInput({ alg: 'none' }, valid())}.`, twin: () => hs256(valid()) },
  {
    name: 'alg none carrying a real signature',
    reason: 'algorithm',
    bad: () => hs256(valid(), SECRET, { alg: 'none', typ: 'JWT' }),
    twin: () => hs256(valid(), SECRET, { alg: 'HS256', typ: 'JWT' }),
  },
  { name: 'an algorithm the key is not taken with (HS512)', reason: 'algorithm', bad: () => hs512(valid()), twin: () => hs256(valid()) },
  {
    name: 'tampered claims',
    reason: 'signature',
    bad: () => tamper(hs256(valid('carol')), valid('demo')),
    twin: () => hs256(valid('demo')),
  },
  { name: 'signed with another secret', reason: 'signature', bad: () => hs256(valid(), 'y'.repeat(32)), twin: () => hs256(valid()) },
  {
    name: 'expired (past exp and the 30 s skew)',
    reason: 'expired',
    message: 'Token expired',
    bad: () => hs256(valid('carol', { exp: nowS() - 45 })),
    twin: () => hs256(valid('carol', { exp: nowS() - 15 })),
  },
  {
    name: 'not yet valid (nbf past the skew)',
    reason: 'not-yet-valid',
    bad: () => hs256(valid('carol', { nbf: nowS() + 120 })),
    twin: () => hs256(valid('carol', { nbf: nowS() + 15 })),
  },
  { name: 'wrong issuer', reason: 'issuer', bad: () => hs256(valid('carol', { iss: 'https://evil.example' })), twin: () => hs256(valid()) },
  {
    name: 'wrong audience',
    reason: 'audience',
    bad: () => hs256(valid('carol', { aud: 'another-service' })),
    twin: () => hs256(valid('carol', { aud: ['another-service', AUDIENCE] })),
  },
  {
    name: 'no exp',
    reason: 'claims',
    bad: () => hs256({ sub: 'carol', iss: ISSUER, aud: AUDIENCE }),
    twin: () => hs256({ sub: 'carol', iss: ISSUER, aud: AUDIENCE, exp: nowS() + 60 }),
  },
  {
    name: 'exp that is not a number',
    reason: 'claims',
    bad: () => hs256(valid('carol', { exp: `${nowS() + 60}` })),
    twin: () => hs256(valid('carol', { exp: nowS() + 60 })),
  },
  { name: 'no sub', reason: 'claims', bad: () => hs256({ ...valid(), sub: undefined }), twin: () => hs256(valid()) },
  {
    name: 'oversized (over 8 KiB, still under the header limit)',
    reason: 'too-large',
    bad: () => hs256(valid('carol', { pad: 'x'.repeat(8200) })),
    twin: () => hs256(valid('carol', { pad: 'x'.repeat(5000) })),
  },
  { name: 'sub with a newline', reason: 'subject', bad: () => hs256(valid('car\nol')), twin: () => hs256(valid('car ol')) },
  { name: 'sub with U+0000', reason: 'subject', bad: () => hs256(valid('carol\u0000')), twin: () => hs256(valid('carol0')) },
  { name: 'sub with a C1 control (U+0085)', reason: 'subject', bad: () => hs256(valid('carol\u0085')), twin: () => hs256(valid('carolé')) },
  { name: 'sub with ESC', reason: 'subject', bad: () => hs256(valid('\u001b[31mcarol')), twin: () => hs256(valid('[31mcarol')) },
  {
    name: 'sub with a lone surrogate',
    reason: 'subject',
    bad: () => hs256(withRawSub('"carol\\ud800"')),
    twin: () => hs256(withRawSub('"carol\\ud83d\\ude00"')),
  },
  { name: 'sub that is empty', reason: 'subject', bad: () => hs256(valid('')), twin: () => hs256(valid('c')) },
  { name: 'sub that is not a string', reason: 'subject', bad: () => hs256(withRawSub('42')), twin: () => hs256(withRawSub('"42"')) },
  {
    name: 'sub over 100 characters',
    reason: 'subject',
    bad: () => hs256(valid('é'.repeat(101))),
    twin: () => hs256(valid('é'.repeat(100))),
  },
  ...(
    [
      ['a string', '3'],
      ['a leading zero', ['03']],
      ['zero', [0]],
      ['a negative id', [-1]],
      ['a fraction', [1.5]],
      ['an id past 2^53−1', [2 ** 53]],
      ['a boolean', [true]],
      ['an object', { 3: true }],
      ['null', null],
      ['an exponent string', ['1e3']],
    ] as Array<[string, unknown]>
  ).map(
    ([what, walls]): HostileCase => ({
      name: `walls claim with ${what}`,
      reason: 'walls',
      bad: () => hs256(valid('carol', { walls })),
      twin: () => hs256(valid('carol', { walls: [3, '4'] })),
    }),
  ),
  { name: 'two segments', reason: 'malformed', bad: () => hs256(valid()).split('.').slice(0, 2).join('.'), twin: () => hs256(valid()) },
  {
    name: 'a header that is not JSON',
    reason: 'malformed',
    bad: () => `bm90IGpzb24.${hs256(valid()).split('.').slice(1).join('.')}`,
    twin: () => hs256(valid()),
  },
];

describe('hostile tokens are refused with 401 and logged without the token', () => {
  // '%s' with the name itself: `$name` would be cut at 40 characters, and -t could not pick a case.
  it.each(HOSTILE.map((each) => [each.name, each] as const))('%s', async (_name, { reason, message = 'Invalid token', bad, twin }) => {
    const { server, log } = await jwtServer();
    const token = bad();
    const refusals = (): string[] =>
      log
        .lines()
        .filter((line) => line.msg === 'token refused')
        .map((line) => String(line.reason));
    const wall1 = (await server.call('GET', '/walls')).json.walls[0].latest_message_id as number;
    const attempts = [
      server.call('GET', '/walls', bearer(token)),
      server.call('GET', '/walls/1/messages', bearer(token)),
      server.call('POST', '/walls/1/messages', { ...bearer(token), body: { content: 'forged' } }),
      server.call('POST', '/poll', { body: { session_id: token, last_post_id: { 1: wall1 }, timeout_ms: 0 } }),
      server.call('POST', '/', {
        rawBody: `session_id=${encodeURIComponent(token)}&last_post_id[1]=${wall1}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      server.call('GET', `/check?token=${encodeURIComponent(token)}`),
      server.call('POST', '/sessions', { body: { token } }),
    ];
    for (const reply of await Promise.all(attempts)) {
      expect(reply.status, reply.text).toBe(401);
      expect(reply.json).toEqual({ errors: [message] });
      expect(reply.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    }
    expect(refusals()).toEqual(Array(attempts.length).fill(reason));
    // Neither the token nor any of its parts reaches the log.
    const text = log.text();
    for (const part of [token, ...token.split('.').filter((segment) => segment.length > 8)]) expect(text).not.toContain(part);
    // The twin, without the defect, is accepted: the test would fail if the check did not bite.
    expect((await server.call('GET', '/walls', bearer(twin()))).status).toBe(200);
  });

  it("HS256 signed with the RSA public key's PEM as the secret fails against that RSA key (algorithm confusion)", async () => {
    const pair = keyPair('RS256');
    const log = captureLog('info');
    const server = await startTestServer({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: pair.file }, log.logger);
    for (const secret of [pair.pem, pair.pem.trim(), Buffer.from(pair.pem)]) {
      const reply = await server.call('GET', '/walls', bearer(hs256(claims('bob'), secret)));
      expect(reply.status).toBe(401);
    }
    expect(
      log
        .lines()
        .filter((line) => line.msg === 'token refused')
        .map((line) => line.reason),
    ).toEqual(['algorithm', 'algorithm', 'algorithm']);
    expect((await server.call('GET', '/walls', bearer(signWith(pair, claims('bob'))))).status).toBe(200);
  });

  it('an ES256 token against an RSA key, and RS256 against an EC key, fail', async () => {
    const rsa = keyPair('RS256');
    const ec = keyPair('ES256');
    const rsaServer = await startTestServer({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: rsa.file });
    const ecServer = await startTestServer({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: ec.file });
    expect((await rsaServer.call('GET', '/walls', bearer(signWith(ec, claims('bob'))))).status).toBe(401);
    expect((await ecServer.call('GET', '/walls', bearer(signWith(rsa, claims('bob'))))).status).toBe(401);
  });

  it('a 1 MB token never reaches verification: 431 in a header or the query, 413 in a body', async () => {
    const { server, log } = await jwtServer();
    const token = hs256(valid('carol', { pad: 'x'.repeat(1 << 20) }));
    expect((await server.call('GET', '/walls', bearer(token))).status).toBe(431);
    expect((await server.call('GET', `/check?token=${token}`)).status).toBe(431);
    expect((await server.call('POST', '/sessions', { body: { token } })).status).toBe(413);
    expect(log.text()).not.toContain('xxxxxxxx');
    expect((await server.call('GET', '/ping')).status).toBe(200);
  });

  it('a token within the clock skew past exp is still accepted, and logs nothing', async () => {
    const { server, log } = await jwtServer();
    expect((await server.call('GET', '/walls', bearer(hs256(valid('carol', { exp: nowS() - 20 }))))).status).toBe(200);
    expect(log.lines().filter((line) => line.msg === 'token refused')).toEqual([]);
  });
});

// ── The walls claim, everywhere ────────────────────────────────────────────

describe('the walls claim grants reading and posting on every route', () => {
  it('lists, reads, posts, polls and streams the granted walls, and nothing else', async () => {
    const { server } = await jwtServer();
    const token = hs256(valid('carol', { walls: [2, 99] }));
    const auth = bearer(token);
    const walls = await server.call('GET', '/walls', auth);
    expect(walls.json.walls.map((wall: { id: number; name: string }) => [wall.id, wall.name])).toEqual([[2, 'Ruby']]);
    expect((await server.call('GET', '/walls/2/messages', auth)).status).toBe(200);
    expect((await server.call('GET', '/walls/1/messages', auth)).status).toBe(200);
    for (const wall of [3, 99]) {
      expect((await server.call('GET', `/walls/${wall}/messages`, auth)).json).toEqual({ errors: ['Wall not found'] });
      expect((await server.call('POST', `/walls/${wall}/messages`, { ...auth, body: { content: 'x' } })).status).toBe(404);
    }
    // General is public: carol reads it but is no member.
    expect((await server.call('POST', '/walls/1/messages', { ...auth, body: { content: 'x' } })).status).toBe(403);

    const demo = await server.call('POST', '/sessions', { body: { token: hs256(valid('demo')) } });
    const before = await newestOn(server, demo.json.session_id, 2);
    const stream = await openStream(server.agent, `${server.url}/check?token=${token}&walls=2,3,4`);
    expect(stream.status).toBe(200);
    const poll = server.call('POST', '/poll', { ...auth, body: { last_post_id: { 2: before, 3: 0 }, timeout_ms: 5000 } });
    const posted = await server.call('POST', '/walls/2/messages', { ...auth, body: { content: 'granted' } });
    expect(posted.status).toBe(201);
    expect(posted.json).toMatchObject({ wall_id: 2, user: 'carol', content: 'granted' });
    const answer = await poll;
    expect(Object.keys(answer.json.walls)).toEqual(['2']);
    expect(answer.json.walls['2'].posts.map((m: { id: number }) => m.id)).toEqual([posted.json.id]);
    const event = await stream.next((e) => e.event === 'refresh');
    expect(JSON.parse(event.data!).messages.map((m: { id: number }) => m.id)).toEqual([posted.json.id]);
    stream.close();
    // A poll on walls it may not read only: refused as any other.
    expect((await server.call('POST', '/poll', { ...auth, body: { last_post_id: { 3: 0 } } })).json).toEqual({
      errors: ['Invalid parameters!'],
    });
  });

  it('survive the exchange for a session id, which original clients use unchanged', async () => {
    const { server } = await jwtServer();
    const exchange = await server.call('POST', '/sessions', { body: { token: hs256(valid('carol', { walls: [3] })) } });
    expect(exchange.status).toBe(201);
    expect(exchange.json).toMatchObject({ user: 'carol', walls: [{ id: 3, name: 'Node' }] });
    const session = exchange.json.session_id as string;
    expect(session).toMatch(/^[\w-]{32}$/);
    const last = await newestOn(server, session, 3);
    // The Sinatra client: form-encoded, session_id in the body, POST /.
    const form = {
      rawBody: `session_id=${session}&last_post_id[3]=${last}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
    const poll = server.call('POST', '/', form);
    const posted = await server.call('POST', '/walls/3/messages', { session, body: { content: 'via session' } });
    expect(posted.status).toBe(201);
    expect((await poll).json.walls['3'].posts[0].content).toBe('via session');
    // As a form login, the token in a form body.
    const formLogin = await server.call('POST', '/sessions', {
      rawBody: `token=${hs256(valid('carol'))}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(formLogin.status).toBe(201);
    // And as a Bearer header.
    expect((await server.call('POST', '/sessions', bearer(hs256(valid('carol'))))).status).toBe(201);
  });
});

describe('the identity mode', () => {
  it('GET /auth says which login the page shows', async () => {
    const { server } = await jwtServer();
    expect((await server.call('GET', '/auth')).json).toEqual({ mode: 'jwt' });
    const demo = await startTestServer();
    expect((await demo.call('GET', '/auth')).json).toEqual({ mode: 'demo' });
  });

  it('AUTH=jwt refuses the pick-a-name login with a stable message', async () => {
    const { server } = await jwtServer();
    for (const options of [
      { body: { user: 'demo' } },
      { rawBody: 'user=demo', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { body: {} },
    ]) {
      const reply = await server.call('POST', '/sessions', options);
      expect(reply.status).toBe(403);
      expect(reply.json).toEqual({ errors: ['Token required'] });
    }
    // Anonymous readers still see the public walls.
    expect((await server.call('GET', '/walls')).json.walls.map((wall: { id: number }) => wall.id)).toEqual([1]);
  });

  it('AUTH=demo takes no token: it is an unknown session there', async () => {
    const server = await startTestServer();
    const token = hs256(claims('demo'));
    expect((await server.call('GET', '/walls', bearer(token))).status).toBe(401);
    expect((await server.call('POST', '/poll', { body: { session_id: token, last_post_id: { 1: 0 } } })).json).toEqual({
      errors: ['Invalid user!'],
    });
    expect((await server.call('POST', '/sessions', { body: { token } })).json).toEqual({ errors: ['Invalid user!'] });
    expect((await server.call('POST', '/sessions', { body: { user: 'demo' } })).status).toBe(201);
  });
});

// ── Fuzz ────────────────────────────────────────────────────────────────────

const SEED = Number(process.env.FUZZ_SEED ?? 7);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** One field of a claims set: its JSON value (undefined: absent) and whether Pollster must accept it. */
type Field = { value: unknown; ok: boolean };
const field = (value: unknown, ok: boolean): Field => ({ value, ok });

/** Claims built field by field, each valid or not, with the verdict an independent oracle gives. */
/** Mostly valid, so that most runs test one defect at a time and some tokens are fully valid. */
const mostly = (good: fc.Arbitrary<Field>, bad: fc.Arbitrary<Field>): fc.Arbitrary<Field> =>
  fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: bad, weight: 1 });
const oddUnit = fc.oneof(
  fc.constantFrom('\n', '\u0085', '\u007f', '\u0000', '\ud800', '\udc00'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

const claimSets = fc
  .record({
    sub: mostly(
      fc.constantFrom('alice', 'carol', 'zoë 😀').map((sub) => field(sub, true)),
      fc.oneof(
        fc
          .string({ unit: oddUnit, minLength: 1, maxLength: 20 })
          .map((sub) => field(sub, sub.isWellFormed() && !/\p{Cc}/u.test(sub) && [...sub].length <= 100)),
        fc.constantFrom(field('', false), field('x'.repeat(101), false), field(7, false), field(undefined, false), field(null, false)),
      ),
    ),
    // Far from the edges (30 s skew), so the verdict cannot flip while the request travels.
    exp: mostly(
      fc.constant(field(nowS() + 600, true)),
      fc.constantFrom(field(nowS() - 600, false), field(undefined, false), field('soon', false), field(null, false)),
    ),
    nbf: mostly(
      fc.constantFrom(field(undefined, true), field(nowS() - 600, true)),
      fc.constantFrom(field(nowS() + 600, false), field('now', false)),
    ),
    iat: mostly(fc.constantFrom(field(undefined, true), field(nowS(), true)), fc.constant(field('x', false))),
    iss: mostly(fc.constant(field(ISSUER, true)), fc.constantFrom(field('https://evil.example', false), field(undefined, false))),
    aud: mostly(
      fc.constantFrom(field(AUDIENCE, true), field([AUDIENCE, 'x'], true)),
      fc.constantFrom(field('x', false), field(undefined, false)),
    ),
    walls: mostly(
      fc.constantFrom(field(undefined, true), field([], true), field([1, '3'], true)),
      fc.oneof(
        fc
          .array(fc.oneof(fc.integer({ min: -3, max: 5 }), fc.constantFrom('2', '02', '1.0', 1.5)), { minLength: 1, maxLength: 4 })
          .map((walls) =>
            field(
              walls,
              walls.every((id) => (typeof id === 'number' ? Number.isInteger(id) && id >= 1 : /^[1-9]\d*$/.test(id))),
            ),
          ),
        fc.constantFrom(field('1', false), field({}, false), field(null, false)),
      ),
    ),
    alg: mostly(
      fc.constant(field('HS256', true)),
      fc.constantFrom(field('HS384', false), field('none', false), field('RS256', false), field('hs256', false)),
    ),
    signature: mostly(fc.constant(field('right', true)), fc.constantFrom(field('flipped', false), field('empty', false))),
  })
  .map((fields) => {
    const payload: Claims = {};
    for (const key of ['sub', 'exp', 'nbf', 'iat', 'iss', 'aud', 'walls'] as const) {
      if (fields[key].value !== undefined) payload[key] = fields[key].value;
    }
    const input = signingInput({ alg: fields.alg.value, typ: 'JWT' }, payload);
    const right = createHmac('sha256', SECRET).update(input).digest('base64url');
    const signature =
      fields.signature.value === 'right'
        ? right
        : fields.signature.value === 'empty'
          ? ''
          : `${right[0] === 'A' ? 'B' : 'A'}${right.slice(1)}`;
    return { token: `${input}.${signature}`, ok: Object.values(fields).every((each) => each.ok) };
  });

/** Anything but an empty credential, which is no credential at all (an anonymous reader). */
const junk = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 200 }),
    fc.array(fc.base64String({ maxLength: 60 }), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
    fc
      .tuple(fc.json(), fc.json())
      .map(([header, payload]) => `${signingInput(header, payload)}.${Buffer.from('sig').toString('base64url')}`),
    fc.tuple(fc.json(), fc.json()).map(([header, payload]) => hs256(payload, SECRET, header)),
  )
  .filter((token) => token !== '');

describe('fuzz: the token path', () => {
  it('the verifier accepts exactly the tokens an independent oracle accepts', async () => {
    const config = loadConfig(JWT_ENV);
    if (config.auth.mode !== 'jwt') throw new Error('jwt expected');
    const verifier = new TokenVerifier(config.auth, { cacheSize: 16 });
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(claimSets, async ({ token, ok }) => {
        const accepted = await verifier.verify(token).then(
          () => true,
          (error: Error) => {
            if (error.name !== 'TokenRefused') throw error;
            return false;
          },
        );
        expect(accepted).toBe(ok);
        seen[accepted ? 'accepted' : 'refused']++;
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
    // Both verdicts came up often: a property that only ever saw refusals would prove little.
    expect(Math.min(seen.accepted, seen.refused)).toBeGreaterThan(RUNS);
  });

  it('over HTTP: never 5xx, 200 only for a valid token, 401 otherwise, wherever the token goes', async () => {
    const { server } = await jwtServer();
    const where = fc.constantFrom('query', 'bearer', 'poll', 'exchange');
    const attempt = fc.tuple(
      fc.oneof(
        claimSets,
        junk.map((token) => ({ token, ok: false })),
      ),
      where,
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(attempt, async ([{ token, ok }, place]) => {
        if (ok) accepted++;
        const reply =
          place === 'query'
            ? await server.call('GET', `/walls?token=${encodeURIComponent(token)}`)
            : place === 'bearer' && /^[\x21-\x7e]+$/.test(token)
              ? await server.call('GET', '/walls', bearer(token))
              : place === 'exchange'
                ? await server.call('POST', '/sessions', { body: { token } })
                : await server.call('POST', '/poll', { body: { session_id: token, last_post_id: { 1: 0 }, timeout_ms: 0 } });
        expect(reply.status, reply.text).toBeLessThan(500);
        const success = place === 'exchange' ? 201 : 200;
        expect(reply.status === success, `${place} ${reply.status} ${reply.text} ${JSON.stringify(token)}`).toBe(ok);
        // Without a dot it is no token but an unknown session id, which the poll refuses as the originals did.
        if (!ok) expect(reply.status).toBe(place === 'poll' && !token.includes('.') ? 400 : 401);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(accepted).toBeGreaterThan(RUNS / 20);
    expect((await server.call('GET', '/ping')).status).toBe(200);
  });
});
