/**
 * Performs one `inject`/`rollback` action against the environment and returns how to undo it. Undo
 * functions are what guarantees cleanup: the runner calls every one of them when the experiment
 * ends, whether its hypotheses held, its load threw, or the user pressed Ctrl-C.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../config/index.js';
import type { Action, DegradeAction, FaultAction, PolicyAction, PublishAction, RollbackAction, ToxicAction } from './action-schema.js';
import type { Environment } from './environment.js';
import { raceTimeout } from './timing.js';
import type { ToxicSpec } from './toxics.js';

export interface AppliedAction {
  readonly description: string;
  readonly undo?: () => Promise<void>;
}

export interface ActionContext {
  readonly env: Environment;
  /** The suite's directory: policy files are relative to it. */
  readonly dir: string;
  readonly signal?: AbortSignal;
}

let toxicSeq = 0;

export async function applyAction(a: Action, ctx: ActionContext): Promise<AppliedAction> {
  const { env } = ctx;
  if (a.fault) return addFault(a.fault, env);
  if (a.toxic) return addToxic(a.toxic, env);
  if (a.kill) {
    await upstreamsOf(env).kill(a.kill);
    const ref = a.kill;
    return { description: `kill ${ref.text}`, undo: () => upstreamsOf(env).restart(ref) };
  }
  if (a.restart) {
    await upstreamsOf(env).restart(a.restart);
    return { description: `restart ${a.restart.text}` };
  }
  if (a.degrade) return degrade(a.degrade, env);
  if (a.policy) return swapPolicy(a.policy, ctx);
  if (a.signal) return signal(a.signal, env);
  if (a.publish) return publish(a.publish, ctx);
  if (a.rollback) return rollbackFleet(a.rollback, env);
  if (a.wait !== undefined) {
    await sleep(a.wait, undefined, ctx.signal ? { signal: ctx.signal } : {});
    return { description: `wait ${formatDuration(a.wait)}` };
  }
  throw new Error('empty action');
}

/** A runtime fault on every sidecar (one, unless the environment is a fleet). */
async function addFault(f: FaultAction, env: Environment): Promise<AppliedAction> {
  const admins = env.admins();
  if (admins.length === 0) throw new Error('the sidecar exposes no admin port (its listening log line has no ports.admin)');
  const added: Array<{ admin: (typeof admins)[number]; id: string }> = [];
  for (const admin of admins) added.push({ admin, id: await admin.addFault(f) });
  const what = [f.delay && `delay ${formatDuration(f.delay.fixed)} ${f.delay.percent}%`, f.abort && `abort ${f.abort.status} ${f.abort.percent}%`].filter(Boolean).join(' + ');
  const scope = [f.route && `route ${f.route}`, f.upstream && `upstream ${f.upstream}`].filter(Boolean).join(' ');
  return {
    description: `fault ${what} on ${scope} (${f.on}, ttl ${formatDuration(f.ttl)})${admins.length > 1 ? ` on ${admins.length} sidecars` : ''}`,
    undo: async () => { await Promise.all(added.map(({ admin, id }) => admin.removeFault(id))); },
  };
}

/** Publishes to the fleet; undone by publishing the policy that was current before (a new generation). */
async function publish(p: PublishAction, ctx: ActionContext): Promise<AppliedAction> {
  const fleet = fleetOf(ctx.env);
  const previous = await fleet.currentText();
  const text = await ctx.env.policy!.render({ inline: p.inline, file: p.file && path.resolve(ctx.dir, p.file) });
  const g = await fleet.publish(text, p.message);
  const what = `publish ${p.file ?? 'inline policy'} as generation ${g.generation}${p.message ? ` (${p.message})` : ''}`;
  return {
    description: what,
    ...(previous === undefined ? {} : { undo: async () => { if (await fleet.currentText() !== previous) await fleet.publish(previous, `undo: ${what}`); } }),
  };
}

async function rollbackFleet(r: RollbackAction, env: Environment): Promise<AppliedAction> {
  const g = await fleetOf(env).rollback(r.to);
  return { description: `rollback to generation ${g.rollbackOf} as generation ${g.generation}` };
}

function addToxic(t: ToxicAction, env: Environment): AppliedAction {
  const members = upstreamsOf(env).select(t.endpoint);
  const name = `chaos-${++toxicSeq}`;
  const spec = toxicSpec(t);
  for (const m of members) m.proxy.addToxic({ name, stream: t.stream, toxicity: t.toxicity, spec });
  return {
    description: `toxic ${describeToxic(spec)} on ${t.endpoint.text} (${t.stream}${t.toxicity < 100 ? `, ${t.toxicity}% of connections` : ''})`,
    undo: async () => { for (const m of members) m.proxy.removeToxic(name); },
  };
}

function toxicSpec(t: ToxicAction): ToxicSpec {
  switch (t.type) {
    case 'latency': return { type: t.type, latency: t.latency, jitter: t.jitter };
    case 'bandwidth': return { type: t.type, rate: t.rate };
    case 'slow_close': return { type: t.type, delay: t.delay };
    case 'timeout': return { type: t.type, timeout: t.timeout };
    case 'reset_peer': return { type: t.type, timeout: t.timeout };
    case 'slicer': return { type: t.type, averageSize: t.averageSize, sizeVariation: t.sizeVariation, delay: t.delay };
    case 'limit_data': return { type: t.type, bytes: t.bytes };
  }
}

function describeToxic(s: ToxicSpec): string {
  const d = formatDuration;
  switch (s.type) {
    case 'latency': return `latency ${d(s.latency)}${s.jitter > 0 ? ` ±${d(s.jitter)}` : ''}`;
    case 'bandwidth': return `bandwidth ${s.rate} KB/s`;
    case 'slow_close': return `slow_close ${d(s.delay)}`;
    case 'timeout': return `timeout (blackhole${s.timeout > 0 ? `, closed after ${d(s.timeout)}` : ''})`;
    case 'reset_peer': return `reset_peer${s.timeout > 0 ? ` after ${d(s.timeout)}` : ''}`;
    case 'slicer': return `slicer ${s.averageSize}±${s.sizeVariation} bytes${s.delay > 0 ? `, ${d(s.delay)} apart` : ''}`;
    case 'limit_data': return `limit_data ${s.bytes} bytes`;
  }
}

function degrade(d: DegradeAction, env: Environment): AppliedAction {
  const members = upstreamsOf(env).select(d.endpoint);
  const before = members.map((m) => m.fake.behaviour);
  for (const m of members) {
    m.fake.setBehaviour({ ...m.fake.behaviour, ...(d.errors ? { errors: d.errors } : {}), ...(d.latency ? { latency: d.latency } : {}) });
  }
  const what = [d.errors && `errors ${d.errors.percent}% ${d.errors.status}`, d.latency && `latency ${JSON.stringify(d.latency)}`].filter(Boolean).join(', ');
  return {
    description: `degrade ${d.endpoint.text}: ${what}`,
    undo: async () => { members.forEach((m, i) => m.fake.setBehaviour(before[i]!)); },
  };
}

async function swapPolicy(p: PolicyAction, ctx: ActionContext): Promise<AppliedAction> {
  const file = ctx.env.policy;
  if (!file) throw new Error('policy swaps need a local environment');
  const previous = file.current;
  const next = await file.render({ inline: p.inline, file: p.file && path.resolve(ctx.dir, p.file) });
  const apply = async (text: string): Promise<void> => {
    await file.write(text);
    if (p.via === 'admin') await requireAdmin(ctx.env).reload();
    if (p.via === 'sighup') ctx.env.sidecar()?.signal('SIGHUP');
  };
  await apply(next);
  const what = `policy ${p.file ?? 'inline'} via ${p.via}`;
  if (p.every === undefined) return { description: `swap ${what}`, undo: () => apply(previous) };
  // A storm: flip between the two policies until undone.
  const stop = new AbortController();
  const every = p.every;
  let failure: unknown;
  const storm = (async () => {
    for (let i = 1; !stop.signal.aborted && failure === undefined; i++) {
      try { await sleep(every, undefined, { signal: stop.signal }); } catch { break; }
      await apply(i % 2 === 1 ? previous : next).catch((err: unknown) => { failure = err; });
    }
  })();
  return {
    description: `reload storm: ${what} every ${formatDuration(every)}`,
    undo: async () => {
      stop.abort();
      await storm;
      await apply(previous);
      if (failure !== undefined) throw failure; // reported after the original policy is back
    },
  };
}

function signal(sig: NodeJS.Signals, env: Environment): AppliedAction {
  const sidecar = env.sidecar();
  if (!sidecar) throw new Error('signals need a local environment');
  sidecar.signal(sig);
  if (sig === 'SIGHUP') return { description: `signal ${sig}` };
  return {
    description: `signal ${sig} to the sidecar (pid ${sidecar.pid})`,
    // The environment is restored for what follows: a sidecar that exited is started again.
    undo: async () => {
      const exited = await raceTimeout(sidecar.exited.then(() => true), 30_000, false);
      if (!exited) await sidecar.stop(0);
      await env.reviveSidecar();
    },
  };
}

function upstreamsOf(env: Environment) {
  if (!env.upstreams) throw new Error('endpoint actions need a local environment');
  return env.upstreams;
}

function fleetOf(env: Environment) {
  if (!env.fleet) throw new Error('publish and rollback need environment.local.fleet');
  return env.fleet;
}

function requireAdmin(env: Environment) {
  const admin = env.admin();
  if (!admin) throw new Error('the sidecar exposes no admin port (its listening log line has no ports.admin)');
  return admin;
}
