/**
 * The wire types the chat page is type-checked against (src/shared/types.ts,
 * tsconfig.public.json) are declarations: the routes build their answers
 * without them. This file holds them to what the server really sends —
 * `/stats` by its type, at `npm run typecheck`, and every answer the page
 * reads by its keys, against a real server.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { PollsterStats } from '../src/app.js';
import type { MessagesAnswer, PollAnswer, RefreshEvent, SessionAnswer, StatsAnswer, WallsAnswer } from '../src/shared/types.js';
import { startTestServer } from './helpers/server.js';

const MESSAGE_KEYS = ['content', 'created_at', 'id', 'user', 'wall_id'];
const WALL_KEYS = ['id', 'latest_message_id', 'name', 'public'];
const keys = (value: object) => Object.keys(value).sort();

describe('the answers the page reads', () => {
  it('/stats has every field the pool panel shows', () => {
    expectTypeOf<PollsterStats>().toMatchTypeOf<StatsAnswer>();
  });

  it('/sessions, /walls, /walls/:id/messages, /poll and /check answer the shapes the page is checked against', async () => {
    const server = await startTestServer();
    const login = await server.call('POST', '/sessions', { body: { user: 'demo' } });
    const session = login.json as SessionAnswer;
    expect(keys(session)).toEqual(['session_id', 'user', 'walls']);
    expect(keys(session.walls[0]!)).toEqual(WALL_KEYS);

    const walls = (await server.call('GET', '/walls')).json as WallsAnswer;
    expect(keys(walls)).toEqual(['walls']);
    expect(keys(walls.walls[0]!)).toEqual(WALL_KEYS);

    const history = (await server.call('GET', '/walls/1/messages')).json as MessagesAnswer;
    expect(keys(history)).toEqual(['messages']);
    expect(keys(history.messages[0]!)).toEqual(MESSAGE_KEYS);

    const poll = await server.call('POST', '/poll', { session: session.session_id, body: { last_post_id: { 1: 0 }, timeout_ms: 0 } });
    const answer = poll.json as PollAnswer;
    expect(keys(answer)).toEqual(['walls']);
    expect(keys(answer.walls['1']!)).toEqual(['posts']);
    expect(keys(answer.walls['1']!.posts[0]!)).toEqual(MESSAGE_KEYS);

    const stream = await fetch(`${server.url}/check?last_event_id=0`, { signal: AbortSignal.timeout(5000) });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: refresh') || !text.slice(text.indexOf('event: refresh')).includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const data = /event: refresh\ndata: (.*)\n/.exec(text)?.[1];
    const event = JSON.parse(data ?? 'null') as RefreshEvent;
    expect(keys(event)).toEqual(['messages']);
    expect(keys(event.messages[0]!)).toEqual(MESSAGE_KEYS);
  });
});
