/**
 * The sustained-throughput scenario's promise checker and response framing,
 * on made-up deliveries and bytes: a missing message, a duplicate, one out of
 * order, late ones, one of a wall not followed — each breaks the promise —
 * and a response split anywhere frames the same. The charts, full-size and
 * with steps not run, are drawn in Chromium: no two labels overlap.
 */
import { describe, expect, it } from 'vitest';
import { checkDeliveries, type Follower, type SentPost } from '../bench/lib/sustained-check.js';
import { ResponseReader } from '../bench/lib/sustained-clients.js';
import { PROMISE_P99_MS, sustained, type SustainedData } from '../bench/scenarios/sustained.js';
import { launchChromium } from './helpers/chromium.js';

/** Posts 1…n, alternating walls 1 and 2, one every 10 ms. */
function posts(n: number): SentPost[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, wall: (i % 2) + 1, sentAt: i * 10 }));
}

/** A follower of `walls` that got every post of them in order, `latency` ms after it was sent. */
function follower(kind: Follower['kind'], walls: number[], sent: SentPost[], latency = 5): Follower {
  const mine = sent.filter((p) => walls.includes(p.wall));
  return {
    kind,
    walls,
    log: { ids: mine.map((p) => p.id), walls: mine.map((p) => p.wall), at: mine.map((p) => p.sentAt + latency) },
  };
}

function everyone(sent: SentPost[]): Follower[] {
  return [follower('poll', [1], sent), follower('stream', [1], sent), follower('poll', [2], sent), follower('stream', [1, 2], sent)];
}

describe('checkDeliveries', () => {
  const sent = posts(200);

  it('holds when every follower has every message of its walls once, in order, in time', () => {
    const check = checkDeliveries(sent, everyone(sent), PROMISE_P99_MS);
    expect(check).toMatchObject({
      expected: 500,
      delivered: 500,
      missing: 0,
      duplicates: 0,
      outOfOrder: 0,
      foreign: 0,
      holds: true,
      onTime: 200,
    });
    expect(check.p99).toBe(5);
  });

  it('a missing message breaks it', () => {
    const followers = everyone(sent);
    const log = followers[1]!.log;
    const at = log.ids.indexOf(51);
    for (const list of [log.ids, log.walls, log.at]) list.splice(at, 1);
    const check = checkDeliveries(sent, followers, PROMISE_P99_MS);
    expect(check).toMatchObject({ missing: 1, holds: false, onTime: 199 });
    expect(check.broken).toEqual(['1 of 500 deliveries missing']);
  });

  it('a duplicate breaks it', () => {
    const followers = everyone(sent);
    const log = followers[2]!.log;
    log.ids.push(200);
    log.walls.push(2);
    log.at.push(2000);
    const check = checkDeliveries(sent, followers, PROMISE_P99_MS);
    expect(check).toMatchObject({ duplicates: 1, missing: 0, holds: false });
  });

  it('a message after a newer one of the same wall breaks it', () => {
    const followers = everyone(sent);
    const { ids } = followers[0]!.log;
    [ids[3], ids[4]] = [ids[4]!, ids[3]!];
    const check = checkDeliveries(sent, followers, PROMISE_P99_MS);
    expect(check).toMatchObject({ outOfOrder: 1, missing: 0, duplicates: 0, holds: false });
  });

  it('a stream is in id order across its walls; a poll only within each wall (a cursor per wall)', () => {
    const two = posts(4);
    // Wall 2's id 2 before wall 1's id 1.
    const swapped = (kind: Follower['kind']): Follower => ({
      kind,
      walls: [1, 2],
      log: { ids: [2, 1, 3, 4], walls: [2, 1, 1, 2], at: [40, 40, 40, 40] },
    });
    expect(checkDeliveries(two, [swapped('stream')], PROMISE_P99_MS)).toMatchObject({ outOfOrder: 1, holds: false });
    expect(checkDeliveries(two, [swapped('poll')], PROMISE_P99_MS)).toMatchObject({ outOfOrder: 0, holds: true });
  });

  it('late deliveries break it once they pass 1% (p99 > 1 s); one late in 500 does not', () => {
    const slow = [follower('poll', [1, 2], sent, 1500), follower('stream', [1, 2], sent, 1500)];
    const check = checkDeliveries(sent, slow, PROMISE_P99_MS);
    expect(check).toMatchObject({ delivered: 400, missing: 0, late: 400, holds: false, onTime: 0 });
    expect(check.broken).toEqual(['p99 1500 ms > 1000 ms']);

    const followers = everyone(sent);
    followers[0]!.log.at[10] = followers[0]!.log.at[10]! + 2000;
    expect(checkDeliveries(sent, followers, PROMISE_P99_MS)).toMatchObject({ late: 1, holds: true, onTime: 199 });
  });

  it('a message of a wall the follower does not follow breaks it', () => {
    const followers = everyone(sent);
    const log = followers[0]!.log;
    log.ids.push(2);
    log.walls.push(2);
    log.at.push(30);
    expect(checkDeliveries(sent, followers, PROMISE_P99_MS)).toMatchObject({ foreign: 1, holds: false });
  });

  it("order is judged over the whole log: a message of this step after a later step's is out of order", () => {
    const step = posts(2);
    const late: Follower = { kind: 'stream', walls: [1, 2], log: { ids: [1, 500, 2], walls: [1, 2, 2], at: [5, 20, 30] } };
    expect(checkDeliveries(step, [late], PROMISE_P99_MS)).toMatchObject({ delivered: 2, outOfOrder: 1, holds: false });
  });

  it('nothing delivered breaks it', () => {
    const silent: Follower = { kind: 'poll', walls: [1], log: { ids: [], walls: [], at: [] } };
    expect(checkDeliveries(posts(4), [silent], PROMISE_P99_MS)).toMatchObject({
      missing: 2,
      holds: false,
      broken: ['2 of 2 deliveries missing', 'nothing delivered'],
    });
  });
});

describe('ResponseReader', () => {
  const sse = 'retry: 1000\n\nid: 7\nevent: refresh\ndata: {"messages":[{"id":7,"wall_id":3}]}\n\n';
  const chunked = `${sse.length.toString(16)}\r\n${sse}\r\n0\r\n\r\n`;
  const bytes =
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' +
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n${chunked}` +
    'HTTP/1.1 304 Not Modified\r\nEtag: 1\r\n\r\n' +
    'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}';

  it('frames the same responses however the bytes are split', () => {
    const expected = [
      { status: 200, body: 'hello' },
      { status: 200, body: sse },
      { status: 304, body: '' },
      { status: 503, body: '{}' },
    ];
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const framed: Array<{ status: number; body: string }> = [];
      let current = { status: 0, body: '' };
      const reader = new ResponseReader(
        (head) => (current = { status: head.status, body: '' }),
        (text) => (current.body += text),
        () => framed.push(current),
      );
      for (let i = 0; i < bytes.length; i += size) reader.feed(bytes.slice(i, i + size));
      expect(framed, `split every ${size} bytes`).toEqual(expected);
    }
  });
});

describe("the sustained scenario's charts", () => {
  it('draw the p99 promise as a dashed target line, and n/a for steps not run', () => {
    const step = (offered: number, p99: number, holds: boolean) => ({ offered, p99, onTimeRate: holds ? offered : 0, holds }) as never;
    const data: SustainedData = {
      sizes: { polls: 2, streams: 2, walls: 2, steps: [100, 200, 400], stepS: 1, drainS: 1 },
      contenders: [
        {
          id: 'sqlite',
          label: 'SQLite',
          skipped: null,
          steps: [step(100, 20, true), step(200, 1500, false), step(400, 3000, false)],
          sustained: 100,
          background: 0,
        },
        { id: 'nchan', label: 'Nchan', skipped: null, steps: [step(100, 2, true)], sustained: 100, background: 0 },
        { id: 'pg-1', label: 'PostgreSQL', skipped: 'not installed', steps: [], sustained: 0, background: Number.NaN },
      ],
    };
    const [p99, rate] = sustained.draw!(data);
    expect(p99!.svg).toMatch(/class="target-line" data-value="1000"/);
    expect(p99!.svg).toContain('promise: p99 ≤ 1 s');
    expect(p99!.svg.match(/class="bar missing"/g)).toHaveLength(2);
    expect(rate!.svg).not.toContain('target-line');
    // A skipped server has no series.
    expect(p99!.svg).not.toContain('PostgreSQL');
  });
});

describe('the sustained charts in Chromium', () => {
  it('every label apart with eleven steps, four servers and steps not run', { timeout: 60_000 }, async () => {
    const steps = [50, 100, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200];
    const run = (upTo: number, p99: number) =>
      steps.filter((r) => r <= upTo).map((offered) => ({ offered, p99: p99 * (offered / 50), onTimeRate: offered, holds: true }) as never);
    const data: SustainedData = {
      sizes: { polls: 1000, streams: 1000, walls: 100, steps, stepS: 5, drainS: 4 },
      contenders: [
        { id: 'sqlite', label: 'SQLite', skipped: null, steps: run(1600, 2), sustained: 400, background: 0 },
        { id: 'pg-1', label: 'PostgreSQL, one host', skipped: null, steps: run(400, 20), sustained: 100, background: 0 },
        { id: 'pg-2', label: 'PostgreSQL, two hosts', skipped: null, steps: run(400, 30), sustained: 100, background: 0 },
        { id: 'nchan', label: 'Nchan', skipped: null, steps: run(3200, 0.1), sustained: 1600, background: 0 },
      ],
    };
    const page = await (await launchChromium()).newPage();
    for (const chart of sustained.draw!(data)) {
      await page.setContent(`<!doctype html><html><body style="margin:0">${chart.svg}</body></html>`);
      // Runs in the page; the project's types have no DOM, so its globals are reached through globalThis.
      const boxes: Array<{ text: string; x: number; y: number; right: number; bottom: number }> = await page.evaluate(() => {
        const { document } = globalThis as any;
        return [...document.querySelectorAll('text')]
          .filter((el: any) => el.textContent.trim())
          .map((el: any) => {
            const b = el.getBoundingClientRect();
            return { text: el.textContent, x: b.left, y: b.top, right: b.right, bottom: b.bottom };
          });
      });
      // Tick labels stand on their own row; the rest must not touch one another.
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!;
          const b = boxes[j]!;
          const apart = a.right <= b.x + 0.5 || b.right <= a.x + 0.5 || a.bottom <= b.y + 0.5 || b.bottom <= a.y + 0.5;
          expect(apart, `${chart.file}: "${a.text}" overlaps "${b.text}"`).toBe(true);
        }
      }
    }
  });
});
