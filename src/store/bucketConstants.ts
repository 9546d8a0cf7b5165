/**
 * Constants of the bucket algorithm, shared by its two twins: the TypeScript files (state.ts, reserve.ts ...) import them and
 * `redis/scriptLayout.ts` writes them into every Lua script as the table `K`, so neither side holds a copy.
 */
export const BUCKET_CONSTANTS = {
  /** Entries admitted within one granule are merged: granule = clamp(floor(windowMs / granuleDivisor), 1, granuleMaxMs). */
  granuleMaxMs: 25,
  granuleDivisor: 1000,
  /** Float slack for token sums (10 x 0.3 is 3.0000000000000004); far below any weight. */
  tokenEpsilon: 1e-9,
  /** The shared backoff level stops growing here (2^30 x baseMs is past any maxMs). */
  maxBackoffLevel: 30,
  /** After two server windows were seen behind one identity, phase alignment stays off this many windows. */
  conflictWindows: 10,
  /** State is kept this long past the span it still matters for (the Redis keys' idle expiry slack). */
  idleSlackMs: 1000,
  /**
   * The reserve a tier leaves to the tiers above it is this many times their measured demand (weight per
   * window, scaled by the part of the known server window still ahead), never more than (1 - share) x limit.
   */
  reserveHeadroom: 2,
  /**
   * In a bucket's first window the tiers below critical leave at least this share of the limit to it (scaled by
   * the part of a known window left, as any reserve): no cancel has been seen yet to size the reserve from.
   */
  coldReserveShare: 0.1,
  /** Critical weight admitted within this span counts as one burst (see criticalBurst in reserve.ts). */
  burstSpanMs: 100,
  /** A tier's reserve is at most max(1 - share, reserveMaxShare) of the limit. */
  reserveMaxShare: 0.5,
  /**
   * Room for a hidden consumer is its weight per window x the part of the window left, plus what it spent since the
   * newest reply's request reached the server (not counted yet): twice its rate over that age, at most this share of
   * its weight per window (see hiddenSlack in reserve.ts).
   */
  hiddenSlack: 0.1,
  /**
   * A hidden consumer's spending so far in this server window, over the part of the window gone (at least this),
   * is its expected weight per window when it exceeds last window's (see hiddenPerWindow).
   */
  hiddenMinElapsed: 0.25,
  /**
   * A measured transit margin (BucketConfig.measureMargin) = marginSpreadFactor x the admission-to-arrival
   * spread seen lately + marginPadMs, within [marginMinMs, marginMaxMs]; trusted once marginMinSamples replies
   * measured it (before that: the configured marginMs). The floor covers a rare slow request the replies have
   * not shown yet (a tail no sample saw: the property test in test/marginProperty.test.ts found 95 ms ones).
   */
  marginSpreadFactor: 2,
  marginPadMs: 10,
  marginMinMs: 100,
  marginMaxMs: 2000,
  marginMinSamples: 8,
  /**
   * At each new server window the spread remembered from the windows before fades by this factor (unless this
   * window's is larger): a rare slow request keeps the margin up for about ten windows, not one.
   */
  spreadFade: 0.8,
  /**
   * While a bucket sees no hidden weight, replies reckon it at most this often: a consumer beside the fleet is seen
   * this late.
   */
  hiddenEveryMs: 10,
  /**
   * Reading the window log (about 1 us an entry in Lua; a busy 3 s window's log holds up to 1000, a 30 s one's 1200):
   * a wait is reckoned from at most waitEntries entries, past them the wait returned is the expiry of the last one
   * read (a lower bound: the lane asks again then); the hidden weight's reckoning reads logChunk entries at a time
   * from both ends and stops at the first that tells (entries expire in log order: see lastingWeight in observe.ts).
   */
  waitEntries: 64,
  logChunk: 32,
  /** Most settled requests a bucket keeps waiting for their window's end (see settle in settle.ts). */
  maxSettles: 256,
  /**
   * Senders (senders.ts): a refused lane's weight waits until its return + pendingSlackMs (a lane comes back when it
   * was told, plus up to the scheduler's jitter); a sender whose decayed admitted weight fell below
   * senderIdleWeight in every tier and that waits nowhere is dropped; at most maxSenders per bucket.
   */
  pendingSlackMs: 50,
  senderIdleWeight: 0.01,
  maxSenders: 64,
  /**
   * Fair shares: a sender is held back once it has had its share of what the waiting senders admitted lately
   * (+ fairSlack of it), for a sender below its share that comes back within fairHoldMs.
   */
  fairSlack: 0.02,
  fairHoldMs: 100,
  /** Factor regained per clean window when an observation does not say. */
  defaultRecoverStep: 0.1,
} as const;
