// A WebSocket bot: WsManager fetches its token through the scheduler, keeps KuCoin's connection and
// subscription limits, and routes pushes to your handlers. Needs the `ws` package.
import { createScheduler, createWsManager, KucoinClient, WsMemoryStore } from 'kucoin-scheduler';
import { credentials, startSimulator, uid } from './simulator.mjs';

const sim = await startSimulator({ websocket: true });
const scheduler = createScheduler({ uid });
const client = new KucoinClient({ scheduler, credentials, baseUrls: sim.urls });
// with Redis, WsRedisStore shares the connection and topic budgets across processes
const manager = createWsManager({ client, kind: 'private', uid, store: new WsMemoryStore() });

const first = new Promise((resolve) => {
  void manager.subscribe('/market/ticker:BTC-USDT', { onMessage: (push) => resolve(push) });
});
await manager.subscribe('/market/ticker:ETH-USDT', { onMessage: () => {} }); // one connection carries both
sim.ws.publish('/market/ticker:BTC-USDT', { price: '65000' }); // the simulator plays KuCoin's push
const push = await first;
console.log(`push on ${push.topic}: price ${push.data.price}`);

await manager.close();
await client.close();
await scheduler.close();
await sim.close();
