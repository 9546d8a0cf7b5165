// KucoinClient: the package's own signed client (undici); every request is scheduled, refusals fed back.
import { createScheduler, KucoinClient } from 'kucoin-scheduler';
import { credentials, startSimulator, uid } from './simulator.mjs';

const sim = await startSimulator();
const scheduler = createScheduler({ uid });
// baseUrls aims the client at the simulator; leave it out to talk to api.kucoin.com and its sibling hosts
const client = new KucoinClient({ scheduler, credentials, baseUrls: sim.urls });

const placed = await client.request({
  method: 'POST',
  path: '/api/v1/hf/orders',
  body: { symbol: 'BTC-USDT', side: 'buy', type: 'limit', price: '1', size: '1', clientOid: 'c1' },
  priority: 'high',
});
await client.request({ method: 'DELETE', path: `/api/v1/hf/orders/${placed.data.orderId}`, query: { symbol: 'BTC-USDT' }, priority: 'critical' });
const accounts = await client.request({ method: 'GET', path: '/api/v1/accounts' });
console.log(`placed and cancelled; ${accounts.data.length} accounts; Spot remaining ${placed.rateLimit?.remaining} of ${placed.rateLimit?.limit}`);

await client.close();
await scheduler.close();
await sim.close();
