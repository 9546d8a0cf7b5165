import { InvalidArgumentError } from '../errors.js';

export function validateFactor(factor: number): void {
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0 || factor > 1) {
    throw new InvalidArgumentError(`Expected factor to be a number in (0, 1], got ${String(factor)}`);
  }
}
