import type { HostName } from '../kucoin/endpointTypes.js';

/** A classic (not unified) account, as `GET /api/ua/v{1,2}/account/mode` answers it: ccxt asks before most calls. */
const ACCOUNT_MODE = { selfAccountMode: 'CLASSIC', unifiedSubAccount: [], classicSubAccount: [] };

/** Two spot balances, the shape of `GET /api/v1/accounts` (ccxt's `fetchBalance` reads them). */
const ACCOUNTS = [
  { id: 'sim-usdt', currency: 'USDT', type: 'trade', balance: '1000', available: '1000', holds: '0' },
  { id: 'sim-btc', currency: 'BTC', type: 'trade', balance: '0.5', available: '0.5', holds: '0' },
];

/** A unified account's balances, the shape of `GET /api/ua/v{1,2}/unified/account/balance`. */
const UNIFIED_BALANCE = {
  accountType: 'UNIFIED',
  balances: [{ currency: 'USDT', equity: '1000', available: '1000', hold: '0', liability: '0' }],
};

/**
 * The `data` the simulator answers for a few read endpoints, so that clients which read it (ccxt's `fetchBalance`)
 * get something plausible; every other endpoint answers `{}`. Keyed by the table's path template.
 */
export function sampleData(host: HostName, method: string, path: string): unknown {
  if (method !== 'GET' || host !== 'spot') return undefined;
  if (/^\/api\/ua\/v[12]\/account\/mode$/.test(path)) return ACCOUNT_MODE;
  if (path === '/api/v1/accounts') return ACCOUNTS;
  if (/^\/api\/ua\/v[12]\/(\{accountMode\}|unified)\/account\/balance$/.test(path)) return UNIFIED_BALANCE;
  return undefined;
}
