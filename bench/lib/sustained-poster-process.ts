/**
 * The posters of the sustained-throughput scenario in a process of their
 * own (`node --import tsx`, started by PosterProcess): their pace then does
 * not wait on the thousands of subscriber sockets in the bench's event loop,
 * and the scheduler gives them a share of the cores of their own.
 *
 * Messages from the parent: `{ type: 'start', spec, walls }`, then
 * `{ type: 'step', rate, durationMs }` answered with the step's posting, its
 * times as `performance.timeOrigin + performance.now()` (the parent turns them
 * into its own clock), and `{ type: 'close' }`.
 */
import { Posters, targetOf, type StepPosting, type TargetSpec } from './sustained-posters.js';

export type ToPosters =
  | { type: 'start'; spec: TargetSpec; walls: number[][] }
  | { type: 'step'; rate: number; durationMs: number }
  | { type: 'close' };
export type FromPosters = { type: 'ready' } | { type: 'done'; posting: StepPosting };

let posters: Posters | null = null;
const reply = (message: FromPosters): void => void process.send!(message);

process.on('message', async (message: ToPosters) => {
  if (message.type === 'start') {
    posters = new Posters(targetOf(message.spec), message.walls);
    reply({ type: 'ready' });
  } else if (message.type === 'step') {
    const posting = await posters!.step(message.rate, message.durationMs);
    for (const post of posting.posts) post.sentAt += performance.timeOrigin;
    reply({ type: 'done', posting });
  } else {
    await posters?.close();
    process.disconnect();
  }
});
// The parent went away (killed, or its test timed out): nothing here outlives it.
process.on('disconnect', () => process.exit(0));
