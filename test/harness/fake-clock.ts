// A controllable clock for the Refresher (and a Broker built with it): `now()` is the wall
// clock; timers are a priority queue ordered by (due time, creation order) that only fire
// inside advance(), so refresh timing can be tested deterministically.
import type { Clock } from '../../src/cache/refresher.ts';

/** Lets every pending promise chain (fetch → runFetch → finally → get) run to completion. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 8; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** `now()` is the wall clock; timers are a priority queue ordered by (due time, creation order). */
export class FakeClock implements Clock {
  private t: number;
  private nextId = 1;
  private queue: Timer[] = [];
  /** Guard against a refresh loop: a real one would spin forever inside advance(). */
  maxTimersPerAdvance = 10_000;

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, at: this.t + Math.max(0, ms), fn };
    // binary search: after every timer due at or before this one (FIFO among equal due times)
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.queue[mid]!.at <= timer.at) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    const i = this.queue.findIndex((t) => t.id === handle);
    if (i >= 0) this.queue.splice(i, 1);
  }

  pending(): number {
    return this.queue.length;
  }

  /** Moves time forward, firing due timers in order and letting async work settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flush();
    let fired = 0;
    for (;;) {
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      if (++fired > this.maxTimersPerAdvance)
        throw new Error(`timer storm: more than ${fired - 1} timers fired`);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }

  async advanceTo(at: number): Promise<void> {
    await this.advance(Math.max(0, at - this.t));
  }

  /** Host suspended: the wall clock jumps, monotonic timers do not run meanwhile (they shift). */
  suspend(ms: number): void {
    this.t += ms;
    for (const timer of this.queue) timer.at += ms;
  }
}
