/**
 * How a request tells its wait that nobody wants the answer any more: its
 * client left, or its session logged out.
 *
 * Waits accept any `CancelSignal`; a real `AbortSignal` is one (the tests and
 * the coalescer's shared tasks use those). Requests use `Departure`, a
 * stand-in for an AbortController that keeps its listeners in one field: a
 * real controller is an EventTarget with two Maps, about 0.5 KB on every held
 * poll and stream (memory per held poll).
 */

export type AbortListener = (() => void) | { handleEvent(): void };

/** The part of AbortSignal that waits use. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

export class Departure implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  /** One listener (the usual case: the request's wait), or several. */
  #listeners: AbortListener | AbortListener[] | undefined;
  #controller: AbortController | undefined;

  /** Abort once; listeners run in the order added, each once (as `{ once: true }` on an AbortSignal). */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    this.#controller?.abort(reason);
    if (listeners === undefined) return;
    for (const listener of Array.isArray(listeners) ? listeners : [listeners]) {
      if (typeof listener === 'function') listener();
      else listener.handleEvent();
    }
  }

  addEventListener(_type: 'abort', listener: AbortListener): void {
    // As on an AbortSignal: a listener added after the abort never runs, and one added twice runs once.
    if (this.aborted) return;
    const listeners = this.#listeners;
    if (listeners === undefined) this.#listeners = listener;
    else if (!Array.isArray(listeners)) {
      if (listeners !== listener) this.#listeners = [listeners, listener];
    } else if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const listeners = this.#listeners;
    if (listeners === listener) this.#listeners = undefined;
    else if (Array.isArray(listeners)) {
      const index = listeners.indexOf(listener);
      if (index >= 0) listeners.splice(index, 1);
    }
  }

  /** A real AbortSignal that aborts with this one, for Node APIs that need one; made on first use. */
  get abortSignal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }
}
