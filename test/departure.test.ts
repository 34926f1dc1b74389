/** A request's Departure behaves as the AbortSignal its waits took before. */
import { describe, expect, it } from 'vitest';
import { Departure } from '../src/poll/departure.js';

describe('Departure', () => {
  it('runs each listener once, in the order added, and none added after the abort', () => {
    const departure = new Departure();
    const calls: string[] = [];
    const first = (): void => void calls.push('first');
    const second = { handleEvent: (): void => void calls.push('second') };
    departure.addEventListener('abort', first);
    departure.addEventListener('abort', second);
    departure.addEventListener('abort', first);
    departure.abort('gone');
    departure.abort('again');
    departure.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual(['first', 'second']);
    expect(departure.aborted).toBe(true);
    expect(departure.reason).toBe('gone');
  });

  it('forgets a removed listener, whether it was alone or one of several', () => {
    const departure = new Departure();
    const calls: string[] = [];
    const alone = (): void => void calls.push('alone');
    departure.addEventListener('abort', alone);
    departure.removeEventListener('abort', alone);
    const kept = (): void => void calls.push('kept');
    const dropped = (): void => void calls.push('dropped');
    departure.addEventListener('abort', kept);
    departure.addEventListener('abort', dropped);
    departure.removeEventListener('abort', dropped);
    departure.abort();
    expect(calls).toEqual(['kept']);
    expect(departure.reason).toBeInstanceOf(DOMException);
  });

  it('gives Node APIs a real AbortSignal that follows it, made before or after the abort', () => {
    const before = new Departure();
    const signal = before.abortSignal;
    expect(signal.aborted).toBe(false);
    before.abort('left');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('left');

    const after = new Departure();
    after.abort('logged out');
    expect(after.abortSignal.aborted).toBe(true);
    expect(after.abortSignal.reason).toBe('logged out');
  });
});
