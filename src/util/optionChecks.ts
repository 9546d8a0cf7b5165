/**
 * The checks every options object is read with, eagerly at construction: each names the option, what was expected
 * and what was got (InvalidArgumentError). The scheduler, the clients, the WebSocket manager and the proxy use them.
 */
import { describeValue, InvalidArgumentError } from '../errors.js';

/** The range a number option must fall within; `above` makes `min` exclusive. Infinity passes only when `max` is Infinity. */
export interface NumberRange {
  readonly min: number;
  readonly max: number;
  readonly above?: boolean;
  readonly integer?: boolean;
}

function rangeText(r: NumberRange): string {
  const kind = r.integer ? 'an integer' : 'a number';
  const low = `${r.above ? '>' : '>='} ${r.min}`;
  return r.max === Number.POSITIVE_INFINITY ? `${kind} ${low} (Infinity allowed)` : `${kind} ${low} and <= ${r.max}`;
}

/** Throws InvalidArgumentError naming the option, what was expected and what was got. */
export function expectOption(ok: boolean, name: string, what: string, got: unknown): void {
  if (!ok) throw new InvalidArgumentError(`Expected ${name} to be ${what}, got ${describeValue(got)}`);
}

/** A number within `range`, else InvalidArgumentError. Rejects NaN, non-numbers, BigInts and out-of-range values. */
export function numberOption(name: string, value: unknown, range: NumberRange): number {
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (range.above ? value > range.min : value >= range.min) &&
    value <= range.max &&
    (!range.integer || Number.isInteger(value));
  expectOption(ok, name, rangeText(range), value);
  return value as number;
}

/** An options sub-object: undefined for undefined or null (the default applies), else a plain object. */
export function objectOption(name: string, value: unknown): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined || value === null) return undefined;
  expectOption(typeof value === 'object' && !Array.isArray(value), name, 'an object', value);
  return value as Readonly<Record<string, unknown>>;
}
