/** The longest delay Node's timers take; a longer one fires after 1 ms (with a TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimeout {
  clear(): void;
}

/**
 * `setTimeout` for any finite delay: a delay past MAX_TIMER_MS is chained in steps, so a 30-day pause
 * or `maxWaitMs: 3e9` waits as long as it says (instead of firing after 1 ms). Infinity never fires.
 * The timers are unref'd when `unref` is set, so they never keep a process alive on their own.
 */
export function setLongTimeout(callback: () => void, ms: number, unref = false): LongTimeout {
  let timer: NodeJS.Timeout | undefined;
  let cleared = false;
  const due = Date.now() + ms;
  const arm = (delay: number): void => {
    if (cleared || !(delay < Number.POSITIVE_INFINITY)) return;
    timer = setTimeout(
      () => {
        const left = due - Date.now();
        if (delay > MAX_TIMER_MS && left > 0) arm(left);
        else callback();
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
    if (unref) timer.unref?.();
  };
  arm(Number.isNaN(ms) ? 0 : ms);
  return {
    clear() {
      cleared = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
