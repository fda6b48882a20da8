// The delivery worker's vetted targets: each endpoint URL's last target check (targets.ts), kept for a short while,
// with a pool of keep-alive connections that may reach only the addresses that check approved. Rules:
//   1. A check serves the attempts of the next `ttlMs` and is then made again, DNS included; one that refused is not
//      kept, and the clock going back ends a check's time at once.
//   2. Every connection a pool opens goes to the addresses its check approved (a pinned lookup): the host is never
//      resolved again behind the check's back, so DNS rebinding cannot steer a connection elsewhere.
//   3. A pool serves one origin and one set of approved addresses. A check that approves the same set (in any order)
//      keeps the pool and its connections; one that approves another set, or refuses, retires it: its idle
//      connections close at once and those in use when their request ends, so no connection outlives the approval
//      of the address it goes to.
//   4. Idle connections close after `idleMs` (sooner when the receiver says so in Keep-Alive), and all of them when
//      the worker stops.
//   5. At most `maxKept` URLs are kept; the one checked longest ago makes room.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { pinnedLookup } from './delivery.ts';
import { checkWebhookTarget, type TargetOptions } from './targets.ts';

/** A URL that may be sent to: through `agent`, or on a connection of its own made with `lookup` (rule 2). */
export type VettedTarget =
  | { ok: true; url: URL; agent: http.Agent; lookup: LookupFunction }
  | { ok: false; reason: string };

export interface VettedTargets {
  /** The URL checked (rule 1) and the pool to send to it through, or why it may not be sent to. */
  vet(url: string): Promise<VettedTarget>;
  /** Closes every connection (rule 4) and forgets every check. */
  close(): void;
}

export interface VettedTargetsOptions {
  targets: TargetOptions;
  /** Milliseconds of the clock the checks are timed by. */
  nowMs: () => number;
  ttlMs?: number;
  idleMs?: number;
  maxKept?: number;
}

interface Pool {
  /** The approved addresses, sorted: DNS may answer the same set in another order. */
  addresses: string;
  agent: http.Agent;
  lookup: LookupFunction;
}

type Vetted = Promise<{ target: VettedTarget; pool: Pool | null }>;

interface Kept {
  checkedAtMs: number;
  vetted: Vetted;
}

const defaultTtlMs = 1000;
// Below the 5 s most servers keep an idle connection (Node's and Apache's default), so a connection is rarely reused
// just as the receiver closes it; sendWebhook sends again on a new one when that happens.
const defaultIdleMs = 4000;
const defaultMaxKept = 1000;

const addressSet = (addresses: readonly string[]) => [...addresses].sort().join(' ');

export function vettedTargets(options: VettedTargetsOptions): VettedTargets {
  const ttlMs = options.ttlMs ?? defaultTtlMs;
  const idleMs = options.idleMs ?? defaultIdleMs;
  const maxKept = options.maxKept ?? defaultMaxKept;
  /** By URL text, checked longest ago first. */
  const kept = new Map<string, Kept>();
  /** The pools not retired, to close on `close`. */
  const pools = new Set<Pool>();

  function newPool(url: URL, addresses: string[]): Pool {
    // Agent options are laid over each request's, so this lookup is the one every new connection uses (rule 2).
    const lookup = pinnedLookup(addresses);
    const agentOptions = { keepAlive: true, timeout: idleMs, lookup };
    const agent = url.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    const pool = { addresses: addressSet(addresses), agent, lookup };
    pools.add(pool);
    return pool;
  }

  /** Rule 3: the pool keeps no connection from now on. */
  function retire(pool: Pool | null): void {
    if (!pool) return;
    pools.delete(pool);
    pool.agent.keepSocketAlive = () => false;
    for (const sockets of Object.values(pool.agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }

  async function check(text: string, before: Vetted | null): Vetted {
    const [target, previous] = await Promise.all([
      checkWebhookTarget(text, options.targets),
      before ? before.then(({ pool }) => pool) : null,
    ]);
    if (!target.ok) {
      retire(previous);
      return { target, pool: null };
    }
    let pool = previous;
    if (pool?.addresses !== addressSet(target.addresses)) {
      retire(pool);
      pool = newPool(target.url, target.addresses);
    }
    return { target: { ok: true, url: target.url, agent: pool.agent, lookup: pool.lookup }, pool };
  }

  async function vet(text: string): Promise<VettedTarget> {
    const nowMs = options.nowMs();
    const found = kept.get(text);
    if (found && nowMs >= found.checkedAtMs && nowMs - found.checkedAtMs < ttlMs) return (await found.vetted).target;
    // Kept at once: the attempts at this URL meanwhile share this check rather than each making one.
    const entry: Kept = { checkedAtMs: nowMs, vetted: check(text, found?.vetted ?? null) };
    kept.delete(text);
    kept.set(text, entry);
    if (kept.size > maxKept) {
      const [oldestUrl, oldest] = kept.entries().next().value as [string, Kept];
      kept.delete(oldestUrl);
      void oldest.vetted.then(({ pool }) => retire(pool));
    }
    const { target } = await entry.vetted;
    if (!target.ok && kept.get(text) === entry) kept.delete(text);
    return target;
  }

  return {
    vet,
    close() {
      kept.clear();
      for (const pool of pools) pool.agent.destroy();
      pools.clear();
    },
  };
}
