/**
 * PostgreSQL's wake-ups: one dedicated connection per process LISTENs on
 * `pollster_messages` and raises the board for every notification, whoever
 * wrote the row — this process, another host, `psql`, another application.
 * A notification that carries the message puts it in `NotifiedMessages`
 * first, so the polls it wakes are answered without a read.
 *
 * A notification is a hint, never the source of truth: one sent while this
 * connection was down is lost. So after every (re)connect the listener
 * LISTENs first and then reads the newest id of every wall, which puts
 * anything written in the gap on the board. A dropped connection is retried
 * with backoff (100 ms doubling to 5 s) until it is back or Pollster stops.
 *
 * The same connection LISTENs on `pollster_changes`: sessions ended, users
 * deleted, walls made private or deleted, members removed, by any writer
 * (`storage/changes.ts`). Those are handed on (to `http/held-waits.ts`);
 * after a reconnect, since some may have been lost, it asks for every held
 * wait to be checked again.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { Board } from '../shared/board.js';
import { type AccessChange, CHANGES_CHANNEL, parseChange } from '../storage/changes.js';
import { parseMessageNotice } from '../storage/message-notices.js';
import { NOTIFY_CHANNEL } from '../storage/pg-schema.js';
import { CONNECT_TIMEOUT_MS, newestPerWall, pgTypes } from '../storage/pg-store.js';
import { NotifiedMessages } from './notified-messages.js';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
/**
 * A connection that dies without a FIN (a host or network gone) would look
 * alive for hours of TCP keep-alive defaults; a cheap query this often, with
 * a timeout, notices within seconds and triggers the reconnect and catch-up.
 */
const HEARTBEAT_MS = 10_000;
const HEARTBEAT_TIMEOUT_MS = 5000;

export class PgListener {
  readonly #url: string;
  readonly #board: Board;
  readonly #logger: Logger;
  #client: pg.Client | null = null;
  #retryMs = FIRST_RETRY_MS;
  #timer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #stopped = false;
  #listening = false;
  #reconnects = 0;
  #notifications = 0;
  /** Notices on the messages channel not signed with the key: forged, or of another shape. */
  #refused = 0;
  #noticeKey = '';
  #onChange: (change: AccessChange) => void = () => {};
  readonly #forget: (change: AccessChange) => void;
  /** The messages notifications carried, for the board waiter's reads. */
  readonly messages = new NotifiedMessages();

  /** `forget`: told of every change before the held waits, so that no cached answer outlives it (`storage/pg-access-cache.ts`). */
  constructor(url: string, board: Board, logger: Logger, forget: (change: AccessChange) => void = () => {}) {
    this.#url = url;
    this.#board = board;
    this.#logger = logger;
    this.#forget = forget;
  }

  /** The first connection: a failure here fails start-up. */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** Where the changes of access go. */
  onChange(handler: (change: AccessChange) => void): void {
    this.#onChange = handler;
  }

  /** Whether notifications arrive now (every post's reaches every process). */
  get listening(): boolean {
    return this.#listening;
  }

  stats() {
    return {
      listening: this.#listening,
      reconnects: this.#reconnects,
      notifications: this.#notifications,
      notices_refused: this.#refused,
      /** Messages held from notifications, and how many reads they answered or left to the database. */
      notified_messages: this.messages.stats(),
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    const client = this.#client;
    this.#client = null;
    this.#listening = false;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: 'pollster-listener',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: HEARTBEAT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: HEARTBEAT_MS,
      types: pgTypes,
    });
    // Both may fire for one failure; #lost() handles each client once, and
    // only once it is listening: until then the failure rejects #connect().
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, null));
    client.on('notification', (message) =>
      message.channel === CHANGES_CHANNEL ? this.#changed(message.payload) : this.#notified(message.payload),
    );
    this.#client = client;
    try {
      await client.connect();
      this.#noticeKey = await readNoticeKey(client);
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      // After LISTEN: anything committed from here on is notified; anything
      // before is in this read.
      const newest = await newestPerWall(client);
      this.messages.base(newest);
      let raised = false;
      for (const { wall_id, newest: id } of newest) {
        if (this.#board.raise(wall_id, id)) raised = true;
      }
      if (raised) this.#board.notifyChange();
    } catch (error) {
      this.messages.suspend();
      this.#client = null;
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.#listening = true;
    this.#retryMs = FIRST_RETRY_MS;
    this.#heartbeat ??= setInterval(() => this.#beat(), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #beat(): void {
    const client = this.#client;
    if (!client || !this.#listening) return;
    client.query('SELECT 1').catch((error: Error) => this.#lost(client, error));
  }

  #notified(payload: string | undefined): void {
    const notice = parseMessageNotice(payload, this.#noticeKey);
    if (!notice) {
      this.#refused++;
      return;
    }
    this.#notifications++;
    // Kept before the board moves: the polls it wakes find it here.
    if (notice.kind === 'message') {
      this.messages.add(notice.message);
      this.#board.publish(notice.message.wall_id, notice.message.id);
    } else {
      this.messages.skipTo(notice.wallId, notice.newest);
      this.#board.publish(notice.wallId, notice.newest);
    }
  }

  #changed(payload: string | undefined): void {
    const change = parseChange(payload);
    if (!change) return;
    this.#notifications++;
    // A deleted user's or wall's messages are deleted too: none may be answered from memory.
    if (change.kind === 'user' || change.kind === 'wall' || change.kind === 'all') this.messages.dropContent();
    this.#forget(change);
    this.#onChange(change);
  }

  #lost(client: pg.Client, error: Error | null): void {
    if (client !== this.#client || !this.#listening || this.#stopped) return;
    this.#client = null;
    this.#listening = false;
    // Announcements are lost until it is back: nothing cached may rely on them.
    this.messages.suspend();
    this.#forget({ kind: 'all' });
    client.removeAllListeners('end');
    // A late 'error' from this client must not go unhandled.
    client.on('error', () => {});
    void client.end().catch(() => {});
    this.#logger.warn({ err: error ?? undefined }, 'lost the PostgreSQL LISTEN connection; reconnecting');
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reconnects++;
      this.#connect().then(
        () => {
          this.#logger.info({ reconnects: this.#reconnects }, 'PostgreSQL LISTEN connection is back');
          // Changes notified while it was away are lost: every held wait is checked again.
          this.#forget({ kind: 'all' });
          this.#onChange({ kind: 'all' });
        },
        (error: unknown) => {
          this.#logger.debug({ err: error, retryMs: this.#retryMs }, 'PostgreSQL LISTEN reconnect failed');
          this.#schedule();
        },
      );
    }, delay);
  }
}

/** The key the triggers sign message notices with (`storage/message-notices.ts`). */
async function readNoticeKey(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ key: string }>('SELECT key FROM pollster_notice_key LIMIT 1');
  if (!rows[0]) throw new Error('pollster_notice_key is empty: message notices cannot be checked');
  return rows[0].key;
}
