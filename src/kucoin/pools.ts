/** KuCoin's resource pools (rate limit 2.0). Source: https://www.kucoin.com/docs-new/rate-limit */
export const POOL_NAMES = ['Spot', 'Futures', 'Management', 'Earn', 'CopyTrading', 'Broker', 'Public', 'UnifiedAccount'] as const;

/** One of KuCoin's resource pools (POOL_NAMES). */
export type PoolName = (typeof POOL_NAMES)[number];

/** Who a pool's quota belongs to: the account (UID) or the egress IP. */
export type PoolSubject = 'uid' | 'ip';

/** A pool as KuCoin publishes it: whose quota it is, the quota by VIP level, and its window. */
export interface PoolDefinition {
  readonly name: PoolName;
  readonly subject: PoolSubject;
  /** Quota per window by VIP level 0..12 (one value when it does not depend on the level). */
  readonly quotaByVip: readonly number[];
  readonly windowMs: number;
  /** True when KuCoin publishes no value and the default is a guess. */
  readonly assumed: boolean;
}

const SPOT_VIP = [4000, 6000, 8000, 10000, 13000, 16000, 20000, 23000, 26000, 30000, 33000, 36000, 40000];
const FUTURES_VIP = [2000, 2000, 4000, 5000, 6000, 7000, 8000, 10000, 12000, 14000, 16000, 18000, 20000];

/** Every pool's definition, by name (docs/rate-limits: KuCoin's rate limit 2.0 tables). */
export const POOLS: Readonly<Record<PoolName, PoolDefinition>> = {
  Spot: { name: 'Spot', subject: 'uid', quotaByVip: SPOT_VIP, windowMs: 30_000, assumed: false },
  Futures: { name: 'Futures', subject: 'uid', quotaByVip: FUTURES_VIP, windowMs: 30_000, assumed: false },
  Management: { name: 'Management', subject: 'uid', quotaByVip: FUTURES_VIP, windowMs: 30_000, assumed: false },
  Earn: { name: 'Earn', subject: 'uid', quotaByVip: [2000], windowMs: 30_000, assumed: false },
  CopyTrading: { name: 'CopyTrading', subject: 'uid', quotaByVip: [2000], windowMs: 30_000, assumed: false },
  // Not published by KuCoin: a conservative guess, override it with `pools.Broker`.
  Broker: { name: 'Broker', subject: 'uid', quotaByVip: [2000], windowMs: 30_000, assumed: true },
  Public: { name: 'Public', subject: 'ip', quotaByVip: [2000], windowMs: 30_000, assumed: false },
  // Two doc versions disagree (2000/30 s or 200/3 s); 2000/30 s is the default, override it if needed.
  UnifiedAccount: { name: 'UnifiedAccount', subject: 'uid', quotaByVip: [2000], windowMs: 30_000, assumed: true },
};

/** Cloudflare's per-IP request limit in front of KuCoin: about 500 requests / 10 s, counted in requests. */
export const CLOUDFLARE_IP_LIMIT = { limit: 500, windowMs: 10_000 } as const;

const lowerCaseNames = new Map<string, PoolName>(POOL_NAMES.map((p) => [p.toLowerCase(), p]));

/** `'spot'`, `'Spot'` and `'SPOT'` all name the Spot pool; undefined for an unknown name. */
export function parsePoolName(name: string): PoolName | undefined {
  return lowerCaseNames.get(name.toLowerCase());
}

/** The pool's quota for a VIP level (0..12); levels past the table use its last value. */
export function quotaFor(pool: PoolName, vipLevel: number): number {
  const table = POOLS[pool].quotaByVip;
  return table[Math.min(vipLevel, table.length - 1)] ?? table[0]!;
}

/**
 * The limits KuCoin may really give a pool: its VIP table's range (for a pool whose quota KuCoin does not
 * publish, anything up to the table's value: lower is only more conservative). A `gw-ratelimit-limit`
 * outside this range (widened to the configured limit) is not learned.
 */
export function quotaRange(pool: PoolName): { readonly min: number; readonly max: number } {
  const table = POOLS[pool].quotaByVip;
  return { min: POOLS[pool].assumed ? 1 : Math.min(...table), max: Math.max(...table) };
}
