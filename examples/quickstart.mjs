import { createScheduler } from 'kucoin-scheduler';

// One scheduler per process; without a store it keeps the quota in memory (createRedisStore shares it).
const scheduler = createScheduler({ uid: '123456789', vipLevel: 0 });
const placeOrder = async (symbol) => ({ orderId: `order-${symbol}` }); // your SDK's calls
const cancelOrder = async (orderId) => ({ cancelled: orderId });

// Pool and weight come from KuCoin's endpoint table: POST /api/v1/hf/orders is Spot, weight 1.
const order = await scheduler.schedule({ endpoint: 'POST /api/v1/hf/orders', priority: 'high' }, () => placeOrder('BTC-USDT'));

// Cancels are critical: lower tiers never take the last part of the pool.
const cancel = scheduler.wrap(cancelOrder, { endpoint: 'DELETE /api/v1/hf/orders/{orderId}', priority: 'critical' });
await cancel(order.orderId);
await scheduler.schedule({ pool: 'futures', weight: 2 }, async () => 'positions'); // or name pool and weight

const spot = (await scheduler.snapshot()).buckets.find((b) => b.id === 'uid:123456789:Spot');
console.log(`Spot: ${spot.used} of ${spot.effectiveLimit} used in the current window`);
await scheduler.close();
