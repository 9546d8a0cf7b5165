import { RedisStore } from '../src/index.js';
import { testRedis } from './helpers/redisClient.js';
import { describeStoreBehaviour } from './storeSuite.js';

describeStoreBehaviour('RedisStore', async (clock) => {
  const { client, prefix } = testRedis();
  const store = new RedisStore({ client, prefix, clock });
  return { store, cleanup: async () => void client.disconnect() };
});
