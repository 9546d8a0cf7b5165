import { startGatewaySimulator } from '../src/simulator/gatewaySimulator.js';
import { writeFileSync } from 'node:fs';
const huge = { limit: 1_000_000_000, windowMs: 30_000 };
const sim = await startGatewaySimulator({ accounts: [{ key: 'proxy-key-1', secret: 'proxy-secret-1', passphrase: 'proxy-pass-1', uid: 'proxy-uid' }], pools: { Public: huge, Spot: huge }, cloudflare: false, maxArrivals: 0 });
writeFileSync('/tmp/proxycfg.json', JSON.stringify({ upstreams: sim.urls, scheduler: { pools: { public: huge, spot: huge }, cloudflare: false } }));
console.log('ready');
setTimeout(() => process.exit(0), 900_000);
