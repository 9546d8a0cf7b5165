// kucoin-node-sdk (KuCoin's older Node SDK, CommonJS): withKucoinNodeSdk schedules each call of its one Http.
import { createRequire } from 'node:module';
import { createScheduler, withKucoinNodeSdk } from 'kucoin-scheduler';
import { credentials, startSimulator, uid } from './simulator.mjs';

const sdk = createRequire(import.meta.url)('kucoin-node-sdk');
const sim = await startSimulator();
const scheduler = createScheduler({ uid });
sdk.init({ baseUrl: sim.urls.spot, apiAuth: credentials, authVersion: 2 });
withKucoinNodeSdk(sdk, { scheduler, baseUrls: { spot: sim.urls.spot } });

const ticker = await sdk.rest.Market.Symbols.getTicker('BTC-USDT');
const placed = await sdk.rest.Trade.Orders.placeHfOrder({ clientOid: 'node-sdk-1', symbol: 'BTC-USDT', type: 'limit', side: 'buy' });
const cancelled = await sdk.rest.Trade.Orders.cancelOrdersByOrderId({ orderId: placed.data.orderId, symbol: 'BTC-USDT' });
console.log(`ticker ${ticker.code}, order ${placed.code}, cancel ${cancelled.code}`);

await scheduler.close();
await sim.close();
