/**
 * `npx tsx bench/token-verify.ts [--iterations 20000]`: what AUTH=jwt costs
 * per request on the main thread, in µs — TokenVerifier.verify on a token it
 * has not seen (jose's signature check and the claims), and on one it has
 * (a SHA-256 of the token and a map lookup), for each key type Pollster takes.
 * Tokens are signed with node:crypto, as an application would.
 */
import { createHmac, createSecretKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TokenVerifier } from '../src/auth/token-verifier.js';
import type { AuthConfig, JwtKey } from '../src/config.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);
const SECRET = 'a secret of at least thirty-two bytes, for the bench';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

interface Variant {
  name: string;
  key: JwtKey;
  mint(payload: object): string;
}

function asymmetric(name: string, alg: string, algorithms: string[], pair: { privateKey: KeyObject; publicKey: KeyObject }): Variant {
  return {
    name,
    key: { key: pair.publicKey, algorithms },
    mint(payload) {
      const input = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
      const data = Buffer.from(input);
      const signature =
        alg === 'EdDSA'
          ? sign(null, data, pair.privateKey)
          : sign('sha256', data, alg === 'ES256' ? { key: pair.privateKey, dsaEncoding: 'ieee-p1363' } : pair.privateKey);
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}

const variants: Variant[] = [
  {
    name: 'HS256',
    key: { key: createSecretKey(Buffer.from(SECRET)), algorithms: ['HS256'] },
    mint(payload) {
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
      return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
    },
  },
  asymmetric('RS256 (2048)', 'RS256', ['RS256'], generateKeyPairSync('rsa', { modulusLength: 2048 })),
  asymmetric('ES256', 'ES256', ['ES256'], generateKeyPairSync('ec', { namedCurve: 'P-256' })),
  asymmetric('EdDSA (Ed25519)', 'EdDSA', ['EdDSA', 'Ed25519'], generateKeyPairSync('ed25519')),
];

const exp = Math.floor(Date.now() / 1000) + 3600;
const auth = (key: JwtKey): Extract<AuthConfig, { mode: 'jwt' }> => ({
  mode: 'jwt',
  keys: [key],
  issuer: null,
  audience: null,
  clockSkewS: 30,
});

async function timeEach(tokens: string[], verifier: TokenVerifier): Promise<number> {
  const started = performance.now();
  for (const token of tokens) await verifier.verify(token);
  return ((performance.now() - started) * 1000) / tokens.length;
}

console.log(`Node ${process.version}, ${iterations} verifications each (after a warm-up)\n`);
console.log('| key | first sight (µs/token) | remembered (µs/token) |');
console.log('| --- | --- | --- |');
for (const variant of variants) {
  // Distinct tokens (jti) so that every first-sight verification really verifies.
  const count = variant.name.startsWith('RS') ? Math.min(iterations, 5000) : iterations;
  const distinct = Array.from({ length: count }, (_, i) => variant.mint({ sub: 'demo', exp, jti: String(i), walls: [2, 3] }));
  const cold = new TokenVerifier(auth(variant.key), { cacheSize: 0 });
  await timeEach(distinct.slice(0, 500), cold);
  const coldUs = await timeEach(distinct, cold);
  const warm = new TokenVerifier(auth(variant.key));
  const same = Array.from({ length: iterations }, () => distinct[0]!);
  await timeEach(same.slice(0, 500), warm);
  const warmUs = await timeEach(same, warm);
  console.log(`| ${variant.name} | ${coldUs.toFixed(1)} | ${warmUs.toFixed(2)} |`);
}
