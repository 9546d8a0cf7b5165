import type { BucketConfig } from '../types.js';

/** One key per bucket of a ResilientStore's maps: its group and id. */
export const bucketKey = (b: BucketConfig): string => `${b.group}\u0000${b.id}`;
