// The README's quick start, type-checked and run by test/examples.test.ts.
import { createScheduler } from '../src/index.js';

// One scheduler per process. Give every bot process of the account the same uid and a RedisStore
// (`store: new RedisStore({ client: new Redis(url) })`) and they share one quota; without a store it is
// an in-process MemoryStore.
const scheduler = createScheduler({ uid: '123456789', vipLevel: 0 });

// Stand-ins for your SDK calls (kucoin-universal-sdk, ccxt, fetch, undici...).
const placeOrder = async (symbol: string) => ({ orderId: `order-${symbol}` });
const cancelOrder = async (orderId: string) => ({ cancelled: orderId });

// Pool and weight come from KuCoin's endpoint table: POST /api/v1/hf/orders is Spot, weight 1.
const order = await scheduler.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high', maxWaitMs: 5_000 }, () => placeOrder('BTC-USDT'));

// Cancels are critical: lower tiers can never fill the last part of the pool.
const cancel = scheduler.wrap(cancelOrder, { endpoint: 'DELETE /api/v1/hf/orders/{orderId}', priority: 'critical' });
await cancel(order.orderId);

// Or name the pool and the weight yourself.
await scheduler.schedule({ pool: 'futures', weight: 2 }, async () => 'positions');

const { buckets } = await scheduler.snapshot();
const spot = buckets.find((b) => b.id === 'uid:123456789:Spot')!;
console.log(`Spot: ${spot.used} of ${spot.effectiveLimit} used in the current window`);
await scheduler.close();
