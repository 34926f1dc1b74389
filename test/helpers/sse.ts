import { request, type Agent } from 'undici';

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  /** A comment line such as `: ping`. */
  comment?: string;
}

export interface SseStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: SseEvent[];
  /** Resolves with the first event (seen or still to come) after index `from` matching `match`. */
  next(match: (event: SseEvent) => boolean, from?: number, ms?: number): Promise<SseEvent>;
  ended: Promise<void>;
  close(): void;
}

function parseBlock(block: string): SseEvent {
  const event: SseEvent = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) event.comment = line.slice(1).trim();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = line.slice(0, colon) as keyof SseEvent;
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data' && event.data !== undefined) event.data += `\n${value}`;
    else event[field] = value;
  }
  return event;
}

export async function openStream(dispatcher: Agent, url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await request(url, { dispatcher, headers, signal: controller.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  const ended = (async () => {
    try {
      for await (const chunk of response.body) {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          events.push(parseBlock(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
        }
        for (const wake of waiters) wake();
      }
    } catch {
      // Closed by us.
    }
  })();
  return {
    status: response.statusCode,
    headers: response.headers,
    events,
    ended,
    close: () => controller.abort(),
    next(match, from = 0, ms = 5000) {
      return new Promise((resolve, reject) => {
        const look = (): boolean => {
          const found = events.slice(from).find(match);
          if (found) {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve(found);
          }
          return Boolean(found);
        };
        const wake = (): void => void look();
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no matching event within ${ms} ms; got ${JSON.stringify(events)}`));
        }, ms);
        if (!look()) waiters.add(wake);
      });
    },
  };
}
