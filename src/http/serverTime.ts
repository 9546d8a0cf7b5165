import { describeValue } from '../errors.js';

/**
 * Which server time the client believes after a 400002 (`GET /api/v1/timestamp`): KuCoin answers its clock in
 * ms since the epoch; a reply that is not such a time, or one too far from the local clock, is not adopted.
 */

/** KuCoin's time is believed only within these bounds (ms since the epoch: 2020-01-01 and 2100-01-01 UTC). */
const EARLIEST_SERVER_TIME = Date.UTC(2020, 0, 1);
const LATEST_SERVER_TIME = Date.UTC(2100, 0, 1);

/** The offset to KuCoin's clock a time read gives (its reply's `data`, the local clock as it was sent and read). */
export function offsetOf(serverTime: unknown, sentAt: number, receivedAt: number): number {
  return typeof serverTime === 'number' ? Math.round(serverTime - (sentAt + receivedAt) / 2) : Number.NaN;
}

/**
 * Why a server time is not believed, or undefined when it is: a number of ms between 2020 and 2100, whose offset
 * to the local clock is at most `maxOffsetMs`. Never quotes more than a short description of the reply.
 */
export function implausibleServerTime(serverTime: unknown, offsetMs: number, maxOffsetMs: number): string | undefined {
  if (typeof serverTime !== 'number' || !Number.isFinite(serverTime)) return `its time ${describeValue(serverTime)} is not a number of ms`;
  if (serverTime < EARLIEST_SERVER_TIME || serverTime >= LATEST_SERVER_TIME) return `its time ${serverTime} is not in ms between 2020 and 2100`;
  if (!(Math.abs(offsetMs) <= maxOffsetMs)) return `its time is ${offsetMs} ms from the local clock, beyond maxClockOffsetMs (${maxOffsetMs})`;
  return undefined;
}
