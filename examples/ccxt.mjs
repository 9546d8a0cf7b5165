// ccxt: withCcxtScheduler schedules every request of the instance and turns ccxt's own throttle off.
import ccxt from 'ccxt';
import { createScheduler, withCcxtScheduler } from 'kucoin-scheduler';
import { credentials, startSimulator, uid } from './simulator.mjs';

const sim = await startSimulator();
const scheduler = createScheduler({ uid });
const kucoin = new ccxt.kucoin({ apiKey: credentials.key, secret: credentials.secret, password: credentials.passphrase });
// aimed at the simulator (against KuCoin, leave ccxt's urls and withCcxtScheduler's baseUrls out)
for (const name of Object.keys(kucoin.urls.api))
  kucoin.urls.api[name] = name === 'broker' ? sim.urls.broker : /futures/i.test(name) ? sim.urls.futures : sim.urls.spot;
const exchange = withCcxtScheduler(kucoin, { scheduler, baseUrls: sim.urls });

const pools = [];
scheduler.on('admitted', (e) => pools.push(e.pool));
const balance = await exchange.fetchBalance(); // first asks GET /api/ua/v1/account/mode (UnifiedAccount pool)
console.log(`balance: ${balance.total.USDT} USDT, ${balance.total.BTC} BTC; first request charged to ${pools[0]}`);

await scheduler.close();
await sim.close();
