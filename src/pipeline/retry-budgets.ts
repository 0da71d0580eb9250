/**
 * Retry budgets that outlive reloads. A budget belongs to a route (Linkerd's per-route budget): an
 * unchanged route keeps its budget across a reload, so a reload every few seconds does not hand a
 * failing upstream a fresh reserve each time; a route whose budget settings change gets a new one,
 * and routes a committed policy no longer has are forgotten.
 */
import { RetryBudget, type RetryBudgetOptions } from '../resilience/index.js';

export class RetryBudgets {
  private readonly byRoute = new Map<string, { key: string; budget: RetryBudget }>();

  /** The budget of `route` with these settings: the existing one while they are unchanged. */
  for(route: string, options: RetryBudgetOptions): RetryBudget {
    const key = `${options.percent}|${options.minPerSecond}|${options.windowMs ?? ''}|${options.buckets ?? ''}`;
    const held = this.byRoute.get(route);
    if (held?.key === key) return held.budget;
    const budget = new RetryBudget(options);
    this.byRoute.set(route, { key, budget });
    return budget;
  }

  /** After a policy is committed: drops the budgets of routes it does not have. */
  retain(routes: Iterable<string>): void {
    const keep = new Set(routes);
    for (const name of this.byRoute.keys()) if (!keep.has(name)) this.byRoute.delete(name);
  }
}
