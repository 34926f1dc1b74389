/** The long poll: `POST /poll`, and `POST /` as the Sinatra original's clients send it. */
import type { PollOutcome } from '../../shared/types.js';
import { pollBody, pollBodyWithGaps } from '../answer-bytes.js';
import { readBody } from '../body.js';
import type { RequestContext, Route } from '../context.js';
import { heldWait } from '../held-waits.js';
import { Errors } from '../http-error.js';
import type { Identity } from '../identity.js';
import { sendJsonBytes } from '../respond.js';
import type { RouteDeps } from '../route-deps.js';
import { LOGGED_OUT } from '../session-waits.js';
import { parsePollRequest } from '../validate.js';
import { endOf, readableAmong } from '../wall-access.js';

export function pollRoutes(deps: RouteDeps, identity: Identity): Route[] {
  const { config, store, history, waitForMessages, waitMeter, heldWaits } = deps;

  async function poll(ctx: RequestContext): Promise<void> {
    // Before any check: a change of access applied from here on is checked against this poll too.
    const since = heldWaits.epoch;
    const body = await readBody(ctx.req);
    const user = await identity.viewer(ctx, Errors.invalidUser, body);
    const request = parsePollRequest(body);
    // One query for all the walls named (up to 100): a check per wall let an
    // anonymous loop naming 100 walls hold the pool and starve everyone else.
    const readable = new Set(
      await readableAmong(
        store,
        user,
        request.lastPostIds.map(([wallId]) => wallId),
      ),
    );
    const walls = request.lastPostIds.filter(([wallId]) => readable.has(wallId));
    // Without a session, no public wall left means the client needs one.
    if (walls.length === 0) throw user ? Errors.invalidParameters() : Errors.invalidUser();
    const timeoutMs = Math.min(request.timeoutMs ?? config.pollTimeoutMs, config.pollTimeoutMs);
    // Bounded history: a cursor behind its wall's kept messages reads from the
    // floor instead, and the answer tells the gap. It still waits when nothing
    // is kept past the floor, so a client that ignores `gaps` cannot spin.
    const fresh = history.ensureFresh();
    if (fresh) await fresh;
    const behind = history.gapsOf(walls);
    // A logout answers the session's held polls at once, as a stale session would be; a
    // lost wall answers them empty (held-waits.ts).
    const sessionId = user ? identity.sessionIdOf(ctx, body) : undefined;
    const held = heldWait(
      ctx.departure,
      sessionId,
      user,
      walls.map(([wallId]) => wallId),
    );
    heldWaits.add(held, since);
    const startedAt = waitMeter.begin(ctx.record);
    let outcome: PollOutcome | undefined;
    try {
      outcome = await waitForMessages(behind ? history.resumed(walls) : walls, {
        // A token's poll answers (empty) when the token ends; the next one with it gets 401 Token expired.
        deadline: Math.min(ctx.arrivedAt + timeoutMs, endOf(user)),
        signal: ctx.departure,
        kind: 'poll',
        admit: () => identity.admitWait(ctx, body),
      });
      if (ctx.departure.reason === LOGGED_OUT) throw Errors.invalidUser();
      const answered = outcome.outcome === 'data' ? outcome.walls : undefined;
      // Checked again after the read: a floor may have passed the cursor while it waited.
      let gaps = history.checked(walls);
      if (gaps instanceof Promise) gaps = await gaps;
      if (gaps) history.told(gaps);
      // Polls that shared a wait share its serialised answer.
      sendJsonBytes(ctx.res, 200, gaps ? pollBodyWithGaps(answered, gaps) : pollBody(answered));
    } finally {
      // Once the answer is written (or the wait failed): delivery counts up to the write.
      waitMeter.end(ctx.record, startedAt, outcome, 'poll');
      heldWaits.delete(held);
    }
  }

  return [
    ['POST', '/poll', poll],
    // The Sinatra original's long poll: same route as its ping, form-encoded by jQuery.
    ['POST', '/', poll],
  ];
}
