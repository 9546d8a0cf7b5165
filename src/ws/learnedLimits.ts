import { learnedValue, type Learned } from './store/wsBudgetMath.js';
import type { WsLearned } from './store/wsStoreTypes.js';

export type LimitName = keyof WsLearned;
const NAMES: readonly LimitName[] = ['sessionLimit', 'topicsPerMessage', 'topicsPerSession'];

/**
 * The limits a manager works with: the configured ones, lowered by what a 509 stated, here (believed
 * `learnForMs`) or anywhere in the fleet (the store's last reply). A learned value never raises a limit; once
 * it is no longer in force the configured one is back.
 */
export class LearnedLimits {
  readonly #local = new Map<LimitName, Learned>();
  #fleet: WsLearned = { sessionLimit: undefined, topicsPerMessage: undefined, topicsPerSession: undefined };

  constructor(
    private readonly configured: Readonly<Record<LimitName, number>>,
    private readonly learnForMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The limit in force. */
  get(name: LimitName): number {
    const now = this.clock();
    return Math.min(this.configured[name], this.#fleet[name] ?? Infinity, learnedValue(this.#local.get(name), now) ?? Infinity);
  }

  /** This process read `value` in a 509: the limits that went down, with their new value. */
  learn(name: LimitName, value: number): [LimitName, number][] {
    return this.#changes(() => {
      const now = this.clock();
      const current = learnedValue(this.#local.get(name), now) ?? Infinity;
      this.#local.set(name, { value: Math.min(current, value), until: now + this.learnForMs });
    });
  }

  /** The store said what the fleet learned: the limits that went down, with their new value. */
  fleet(learned: WsLearned): [LimitName, number][] {
    return this.#changes(() => (this.#fleet = learned));
  }

  #changes(update: () => void): [LimitName, number][] {
    const before = NAMES.map((n) => this.get(n));
    update();
    return NAMES.map((n): [LimitName, number] => [n, this.get(n)]).filter(([, v], i) => v < before[i]!);
  }
}
