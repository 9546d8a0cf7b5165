import './providedContext.js';
import type { TestProject } from 'vitest/node';
import { findRedis } from './helpers/findRedis.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await findRedis();
  project.provide('redisUrl', redis.url);
  project.provide('redisSource', redis.source);
  return () => redis.stop();
}
