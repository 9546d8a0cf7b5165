import { Pool } from 'undici';
import { apiKeyHash, createProxy, RedisStore } from '../src/index.js';
import { authHeaders } from '../src/kucoin/signing.js';
import { startGatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import { Redis } from 'ioredis';
import { measure } from '../bench/stats.js';
const KEY = { key: 'k', secret: 's', passphrase: 'p' };
const huge = { limit: 1_000_000_000, windowMs: 30_000 };
const sim = await startGatewaySimulator({ accounts: [{ ...KEY, uid: 'u' }], pools: { Public: huge, Spot: huge }, cloudflare: false, maxArrivals: 0 });
const mode = process.argv[2];
const client = new Redis();
const proxy = await createProxy({ port: 0, upstreams: sim.urls, accounts: [{ keyHash: apiKeyHash(KEY.key), uid: 'u' }], metrics: false,
  ...(mode === 'redis' ? { store: new RedisStore({ client, prefix: 'tp-' + Date.now() }) } : {}),
  scheduler: { pools: { public: huge, spot: huge }, cloudflare: false } });
const pool = new Pool(proxy.url, { connections: 128 });
const target = '/api/v1/hf/orders/active?symbol=BTC-USDT';
const op = async () => { const r = await pool.request({ path: '/spot' + target, method: 'GET', headers: authHeaders(KEY, 'GET', target, '') }); await r.body.text(); if (r.statusCode !== 200) throw new Error(String(r.statusCode)); };
console.log(mode, JSON.stringify(await measure(op, 10000, 64)));
await pool.close(); await proxy.close({ drainMs: 0 }); await sim.close(); client.disconnect();
