/** A minimal SSE reader for the benchmarks: calls `onEvent` for each `refresh` event. */
import { request, type Agent } from 'undici';

export interface OpenStream {
  close(): void;
  done: Promise<void>;
}

export async function openEvents(
  agent: Agent,
  origin: string,
  path: string,
  session: string,
  onMessages: (messages: Array<{ id: number; wall_id: number; content: string; created_at: string }>) => void,
): Promise<OpenStream> {
  const controller = new AbortController();
  const response = await request(new URL(path, origin), {
    dispatcher: agent,
    headers: { authorization: `Bearer ${session}` },
    signal: controller.signal,
  });
  if (response.statusCode !== 200) {
    await response.body.dump();
    throw new Error(`stream refused: ${response.statusCode}`);
  }
  const done = (async () => {
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block);
          if (data && /^event: refresh$/m.test(block)) onMessages(JSON.parse(data[1]!).messages);
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return { close: () => controller.abort(), done };
}
