/**
 * One timer per distinct bucket width for all circuit breakers. opossum gives every breaker its own
 * bucket-rotation interval (plus a snapshot interval) unless a `rotateBucketController` is shared; a
 * sidecar with hundreds of upstream×subset breakers would otherwise run hundreds of timers. The
 * composition root makes one `BucketTicker` and hands it to every breaker.
 *
 * Timers are unref'd (they never keep the process alive) and cleared as soon as the last subscriber
 * of a width leaves, so a disposed breaker leaves nothing behind.
 */
interface Lane {
  readonly timer: NodeJS.Timeout;
  readonly subscribers: Set<() => void>;
}

export class BucketTicker {
  private readonly lanes = new Map<number, Lane>();

  /** Calls `tick` every `intervalMs` until the returned function is called. */
  subscribe(intervalMs: number, tick: () => void): () => void {
    const width = Math.max(1, Math.floor(intervalMs));
    let lane = this.lanes.get(width);
    if (!lane) {
      const subscribers = new Set<() => void>();
      const timer = setInterval(() => { for (const fn of subscribers) fn(); }, width);
      timer.unref();
      lane = { timer, subscribers };
      this.lanes.set(width, lane);
    }
    // A wrapper per subscription, so subscribing the same function twice still unsubscribes cleanly.
    const entry = (): void => tick();
    lane.subscribers.add(entry);
    const owned = lane;
    return () => {
      if (!owned.subscribers.delete(entry) || owned.subscribers.size > 0) return;
      clearInterval(owned.timer);
      if (this.lanes.get(width) === owned) this.lanes.delete(width);
    };
  }

  /** Number of live timers (one per distinct width in use). */
  get timerCount(): number {
    return this.lanes.size;
  }

  /** Stops every timer; subscribers simply stop being called. */
  dispose(): void {
    for (const lane of this.lanes.values()) clearInterval(lane.timer);
    this.lanes.clear();
  }
}
