import { Pool } from 'undici';
import { authHeaders } from '../src/kucoin/signing.js';
import { measure } from './stats.js';
const KEY = { key: 'proxy-key-1', secret: 'proxy-secret-1', passphrase: 'proxy-pass-1' };
const pool = new Pool(process.argv[2]!, { connections: 128 });
const target = '/api/v1/hf/orders/active?symbol=BTC-USDT';
const op = async () => { const r = await pool.request({ path: '/spot' + target, method: 'GET', headers: authHeaders(KEY, 'GET', target, '') }); await r.body.text(); if (r.statusCode !== 200) throw new Error(String(r.statusCode)); };
console.log(JSON.stringify(await measure(op, 10000, 64)));
await pool.close();
