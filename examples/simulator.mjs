// A local stand-in for KuCoin that the examples run against: kucoin-scheduler's gateway simulator (REST, the
// three hosts, KuCoin's pools, weights and rate-limit replies) and its WebSocket simulator, on free ports.
// Run it on its own to point your own bot at it: `node examples/simulator.mjs` prints the URLs and the API key.
import { pathToFileURL } from 'node:url';
import { startGatewaySimulator, startWsSimulator } from 'kucoin-scheduler/simulator';

/** The one API key the simulator knows: the examples sign with it. */
export const credentials = { key: 'example-key', secret: 'example-secret', passphrase: 'example-pass' };
export const uid = '123456789';

/** Starts the REST simulator, and with `{ websocket: true }` the WebSocket one (needs the `ws` package); `close()` stops them. */
export async function startSimulator({ websocket = false } = {}) {
  const ws = websocket ? await startWsSimulator() : undefined;
  const gateway = await startGatewaySimulator({ accounts: [{ ...credentials, uid }], websocket: ws });
  return {
    urls: gateway.urls, // { spot, futures, broker }: pass as `baseUrls`
    ws,
    stats: () => gateway.stats(),
    close: async () => {
      await gateway.close();
      await ws?.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sim = await startSimulator({ websocket: true });
  console.log(`KuCoin simulator: ${JSON.stringify(sim.urls)}`);
  console.log(`API key ${credentials.key}, secret ${credentials.secret}, passphrase ${credentials.passphrase} (uid ${uid})`);
  console.log('Ctrl-C stops it.');
  process.once('SIGINT', () => void sim.close());
}
