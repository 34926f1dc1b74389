/**
 * What a Bearer token on every request costs (issue "Pollster in front of a
 * real application": delivery with AUTH=jwt against AUTH=demo sessions, p50
 * ratio ≤ 1.1, and the verification cost per request in µs).
 *
 * Delivery: two servers, AUTH=demo (a session id) and AUTH=jwt (an HS256
 * token signed here with node:crypto, as the application would, not with
 * jose), otherwise the default configuration; rounds interleaved, the order
 * alternating. A round times `GET /walls` (one identity check, one read),
 * then holds one long poll, posts one message and times post → poll answer.
 * Each block runs on a fresh pair of servers; the ratio is taken per block.
 *
 * Verification: TokenVerifier.verify in this process, on tokens it has not
 * seen (jose's signature check and the claims) and on one it has (a SHA-256
 * of the token and a map lookup), for each key type Pollster takes.
 */
import { createHmac, createSecretKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type JwtAuth, TokenVerifier } from '../../src/auth/token-verifier.js';
import type { JwtKey } from '../../src/config.js';
import { login, send } from '../lib/client.js';
import { type BenchSettings, fmt, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { type BenchServer, startServer } from '../lib/server.js';
import { median, percentile, round } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';

const SECRET = 'a secret of at least thirty-two bytes, for the bench';
const WALL = 2;
const WARM_UP_ROUNDS = 10;
/** Long enough for the held poll to reach its wait before the post. */
const POLL_SETTLE_MS = 20;
const ROUND_GAP_MS = 10;
const TARGET_RATIO = 1.1;

const MODES = [
  { mode: 'demo', label: 'AUTH=demo, session id', env: { AUTH: 'demo' } },
  { mode: 'jwt', label: 'AUTH=jwt, Bearer token', env: { AUTH: 'jwt', JWT_SECRET: SECRET } },
] as const;
type Mode = (typeof MODES)[number]['mode'];

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** HS256 by hand, as the application would sign it. */
export function hs256Token(payload: object, secret = SECRET): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** One mode's figures in one block, ms. */
interface Samples {
  delivery: number[];
  walls: number[];
}
type Block = Record<Mode, Samples>;

async function oneRound(server: BenchServer, credential: string, round: number): Promise<{ delivery: number; walls: number }> {
  const opts = { session: credential, timeoutMs: 10_000 };
  let started = performance.now();
  const listed = await send(server.agent, server.url, 'GET', '/walls', opts);
  const walls = performance.now() - started;
  if (listed.status !== 200) throw new Error(`GET /walls answered ${listed.status}`);
  const cursor = listed.json.walls.find((wall: { id: number }) => wall.id === WALL).latest_message_id as number;
  const poll = send(server.agent, server.url, 'POST', '/poll', { ...opts, body: { last_post_id: { [WALL]: cursor }, timeout_ms: 5000 } });
  await new Promise((resolve) => setTimeout(resolve, POLL_SETTLE_MS));
  started = performance.now();
  const posted = await send(server.agent, server.url, 'POST', `/walls/${WALL}/messages`, { ...opts, body: { content: `round ${round}` } });
  if (posted.status !== 201) throw new Error(`POST answered ${posted.status}`);
  const answer = await poll;
  const delivery = performance.now() - started;
  if (answer.status !== 200 || !answer.json.walls[WALL]) throw new Error(`poll answered ${answer.status} ${JSON.stringify(answer.json)}`);
  return { delivery, walls };
}

/** `rounds` measured rounds (after a warm-up) on a fresh AUTH=demo server and a fresh AUTH=jwt one. */
export async function deliveryBlock(rounds: number): Promise<Block> {
  const servers: BenchServer[] = [];
  try {
    const credentials: string[] = [];
    for (const { mode, env } of MODES) {
      const server = await startServer(env);
      servers.push(server);
      const exp = Math.floor(Date.now() / 1000) + 3600;
      credentials.push(mode === 'demo' ? (await login(server.agent, server.url)).session : hs256Token({ sub: 'demo', exp }));
    }
    const block: Block = { demo: { delivery: [], walls: [] }, jwt: { delivery: [], walls: [] } };
    for (let round = 0; round < WARM_UP_ROUNDS + rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const index of order) {
        const measured = await oneRound(servers[index]!, credentials[index]!, round);
        if (round >= WARM_UP_ROUNDS) {
          block[MODES[index]!.mode].delivery.push(measured.delivery);
          block[MODES[index]!.mode].walls.push(measured.walls);
        }
        await new Promise((resolve) => setTimeout(resolve, ROUND_GAP_MS));
      }
    }
    return block;
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

interface KeyVariant {
  name: string;
  key: JwtKey;
  mint(payload: object): string;
}

function asymmetric(name: string, alg: string, algorithms: string[], pair: { privateKey: KeyObject; publicKey: KeyObject }): KeyVariant {
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

function keyVariants(): KeyVariant[] {
  return [
    { name: 'HS256', key: { key: createSecretKey(Buffer.from(SECRET)), algorithms: ['HS256'] }, mint: (payload) => hs256Token(payload) },
    asymmetric('RS256 (2048)', 'RS256', ['RS256'], generateKeyPairSync('rsa', { modulusLength: 2048 })),
    asymmetric('ES256', 'ES256', ['ES256'], generateKeyPairSync('ec', { namedCurve: 'P-256' })),
    asymmetric('EdDSA (Ed25519)', 'EdDSA', ['EdDSA', 'Ed25519'], generateKeyPairSync('ed25519')),
  ];
}

/** µs per token, first sight and remembered, one figure per pass. */
export interface VerifyRow {
  key: string;
  tokens: number;
  firstUs: number[];
  cachedUs: number[];
}

async function usPerToken(tokens: string[], verifier: TokenVerifier): Promise<number> {
  const started = performance.now();
  for (const token of tokens) await verifier.verify(token);
  return ((performance.now() - started) * 1000) / tokens.length;
}

/**
 * TokenVerifier.verify as Pollster's main thread runs it. A first pass over
 * every key type is discarded (jose's and the cache's code still cold made the
 * first key type read 2–3× slower); the passes after it go round the key
 * types in turn, so a busy moment of the machine falls on all of them alike.
 */
export async function verificationCosts(distinct: number, cached: number, passes: number): Promise<VerifyRow[]> {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const auth = (key: JwtKey): JwtAuth => ({ mode: 'jwt', keys: [key], issuer: null, audience: null, clockSkewS: 30 });
  const variants = keyVariants().map((variant) => {
    // Distinct tokens (jti), so that every first-sight verification verifies; RSA signing is slow, so fewer of those.
    const count = variant.name.startsWith('RS') ? Math.ceil(distinct / 4) : distinct;
    const tokens = Array.from({ length: count }, (_, i) => variant.mint({ sub: 'demo', exp, jti: String(i), walls: [2, 3] }));
    const row: VerifyRow = { key: variant.name, tokens: count, firstUs: [], cachedUs: [] };
    return { variant, tokens, same: Array.from({ length: cached }, () => tokens[0]!), row };
  });
  for (let pass = -1; pass < passes; pass++) {
    for (const { variant, tokens, same, row } of variants) {
      const first = await usPerToken(tokens, new TokenVerifier(auth(variant.key), { cacheSize: 0 }));
      const remembered = await usPerToken(same, new TokenVerifier(auth(variant.key)));
      if (pass >= 0) {
        row.firstUs.push(first);
        row.cachedUs.push(remembered);
      }
    }
  }
  return variants.map((v) => v.row);
}

const spread = (values: number[], digits = 2): string =>
  values.length > 1
    ? `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`
    : fmt(values[0]!, digits);

/** A mode's figures over every block, and jwt ÷ demo per block. */
function summarizeBlocks(blocks: Block[]) {
  const all = (mode: Mode, key: keyof Samples) => blocks.flatMap((b) => b[mode][key]);
  const perBlock = (key: keyof Samples, p: number) => blocks.map((b) => percentile(b.jwt[key], p) / percentile(b.demo[key], p));
  return {
    modes: MODES.map(({ mode, label }) => ({
      mode,
      label,
      rounds: all(mode, 'delivery').length,
      deliveryP50: round(percentile(all(mode, 'delivery'), 50)),
      deliveryP99: round(percentile(all(mode, 'delivery'), 99)),
      deliveryMax: round(Math.max(...all(mode, 'delivery'))),
      blockP50s: blocks.map((b) => round(percentile(b[mode].delivery, 50))),
      wallsP50: round(percentile(all(mode, 'walls'), 50)),
      wallsP99: round(percentile(all(mode, 'walls'), 99)),
    })),
    ratios: [
      { measure: 'delivery p50', perBlock: perBlock('delivery', 50) },
      { measure: 'delivery p99', perBlock: perBlock('delivery', 99) },
      { measure: 'GET /walls p50', perBlock: perBlock('walls', 50) },
    ],
  };
}
type Summary = ReturnType<typeof summarizeBlocks>;

export const tokenAuth: Scenario = {
  id: 'token-auth',
  title: 'A Bearer token on every request: AUTH=jwt vs AUTH=demo sessions',
  notPerConfiguration: 'compares AUTH=demo and AUTH=jwt on servers of its own',
  notFromOutside: 'starts an AUTH=demo and an AUTH=jwt server (with a JWT_SECRET of its own) side by side',
  draw: ({ summary }: { summary: Summary }) => [
    {
      file: 'token-auth.svg',
      caption: 'Delivery and GET /walls with a demo session and with a Bearer token',
      svg: barChart({
        title: 'A session id vs a Bearer token on every request (ms)',
        categories: ['delivery p50', 'delivery p99', 'GET /walls p50', 'GET /walls p99'],
        series: summary.modes.map((m) => ({ name: m.label, values: [m.deliveryP50, m.deliveryP99, m.wallsP50, m.wallsP99] })),
        yLabel: 'ms',
      }),
    },
  ],
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const blockCount = settings.runs * 2;
    const rounds = settings.quick ? 40 : 150;
    const blocks: Block[] = [];
    for (let i = 0; i < blockCount; i++) {
      const block = await deliveryBlock(rounds);
      const p50 = (mode: Mode) => percentile(block[mode].delivery, 50);
      log(
        `block ${i + 1}/${blockCount}: delivery p50 demo ${fmt(p50('demo'))} ms, jwt ${fmt(p50('jwt'))} ms (${fmt(p50('jwt') / p50('demo'))}×)`,
      );
      blocks.push(block);
    }
    const [distinct, cached, passes] = settings.quick ? [1000, 5000, 2] : [4000, 20_000, 3];
    const verification = await verificationCosts(distinct, cached, passes);
    for (const v of verification) log(`${v.key}: first sight ${spread(v.firstUs, 1)} µs, remembered ${spread(v.cachedUs)} µs`);
    const summary = summarizeBlocks(blocks);
    const p50Ratio = summary.ratios[0]!.perBlock;
    return {
      id: this.id,
      title: this.title,
      method: `Delivery: ${blockCount} block(s), each on a fresh pair of servers built from dist/ with the default configuration, one with AUTH=demo (the client logs in and sends its session id) and one with AUTH=jwt and a JWT_SECRET (the client sends an HS256 token for user demo, signed by the bench with node:crypto as an application would). In each block, ${WARM_UP_ROUNDS} warm-up rounds then ${rounds} measured ones, the two servers taking turns within a round and the order alternating from round to round. A round times GET /walls (one identity check and one read), then holds one long poll on wall ${WALL}, waits ${POLL_SETTLE_MS} ms, posts one message and times from the start of the POST to the poll's answer; the same credential goes with every request, the held poll and the post alike. Latencies are over every measured round; the ratios (AUTH=jwt ÷ AUTH=demo) are taken per block, then their median (min–max). Verification: TokenVerifier.verify (src/auth/token-verifier.ts) timed in the bench process, with the servers stopped: on ${distinct} distinct tokens (${Math.ceil(distinct / 4)} for RSA) with the cache off, so that each is verified (jose's signature check and the claims, and the SHA-256 that keys the cache), and on one token ${cached.toLocaleString('en')} times, remembered after the first; ${passes} pass(es) after one discarded (code still cold), median (min–max). It has no target: what it does to a client is the delivery ratio's to judge, and an absolute µs bound would move with the machine and judge node:crypto and jose more than Pollster.`,
      tables: [
        {
          title: 'Post-to-receipt latency and GET /walls round trip, ms, over every measured round',
          columns: [
            'mode',
            'rounds',
            'delivery p50',
            'delivery p99',
            'delivery max',
            'delivery p50 per block (min–max)',
            'GET /walls p50',
            'GET /walls p99',
          ],
          rows: summary.modes.map((m) => [
            m.label,
            m.rounds,
            fmt(m.deliveryP50),
            fmt(m.deliveryP99),
            fmt(m.deliveryMax),
            spread(m.blockP50s),
            fmt(m.wallsP50),
            fmt(m.wallsP99),
          ]),
        },
        {
          title: `AUTH=jwt ÷ AUTH=demo, per block: median (min–max) of ${blockCount}`,
          columns: ['measure', 'jwt ÷ demo'],
          rows: summary.ratios.map((r) => [r.measure, `${spread(r.perBlock)}×`]),
        },
        {
          title: 'Token verification on one thread, µs per token (TokenVerifier.verify)',
          columns: ['key', 'first sight (verified)', 'remembered (cached)', 'distinct tokens'],
          rows: verification.map((v) => [v.key, spread(v.firstUs, 1), spread(v.cachedUs), v.tokens]),
        },
      ],
      targets: [
        {
          goal: `delivery p50 with a Bearer token on every request ≤ ${TARGET_RATIO}× a demo session's`,
          measured: `${spread(p50Ratio)}× over ${blockCount} block(s) of ${rounds} rounds`,
          met: median(p50Ratio) <= TARGET_RATIO,
          kind: 'ratio',
        },
      ],
      charts: this.draw!({ summary }),
      data: { blockCount, rounds, summary, verification },
    };
  },
};
