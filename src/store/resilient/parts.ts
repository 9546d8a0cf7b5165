import type { RedisStore } from '../redis/redisStore.js';
import type { Fleet } from './fleet.js';
import type { HealthState } from './health.js';
import type { LocalShares } from './localShares.js';
import type { Readings } from './readings.js';
import type { Reconciliation } from './reconciliation.js';

/** The named parts a ResilientStore is made of, as its acquisition paths use them. */
export interface Parts {
  readonly primary: RedisStore;
  readonly clock: () => number;
  readonly health: HealthState;
  readonly fleet: Fleet;
  readonly readings: Readings;
  readonly shares: LocalShares;
  readonly reconciliation: Reconciliation;
  /** A caller-facing Redis call failed: an outage (StoreError) cuts this process off; anything else is rethrown. */
  readonly outage: (error: unknown) => void;
  /** A Redis call failed: cut this process off (unless Redis was never reached). */
  readonly fail: (error: unknown) => void;
}
