import { describe, expect, it } from 'vitest';
import { AmbiguousEndpointError, EndpointTable, InvalidEndpointError } from '../src/index.js';
import { ENDPOINT_ROWS } from '../src/kucoin/endpoints.generated.js';

const table = new EndpointTable({ unknownWeight: 30 });

describe('EndpointTable', () => {
  it('holds all 250 generated endpoints', () => {
    expect(ENDPOINT_ROWS).toHaveLength(250);
    expect(table.size).toBe(250);
  });

  it('matches a concrete path to its template', () => {
    const info = table.lookup('DELETE /api/v1/hf/orders/123?symbol=BTC-USDT');
    expect(info).toMatchObject({ path: '/api/v1/hf/orders/{orderId}', pool: 'Spot', weight: 1, known: true });
  });

  it('prefers a literal segment over a template', () => {
    expect(table.lookup('POST /api/v1/orders/multi', 'futures')).toMatchObject({ path: '/api/v1/orders/multi', weight: 20 });
    expect(table.lookup('DELETE /api/v1/orders/abc', 'futures').path).toBe('/api/v1/orders/{orderId}');
  });

  it('lets the host decide a path that exists on several hosts', () => {
    expect(table.lookup('POST /api/v1/orders', 'spot').pool).toBe('Spot');
    expect(table.lookup('POST /api/v1/orders', 'api-futures.kucoin.com')).toMatchObject({ pool: 'Futures', weight: 2 });
    expect(table.lookup('POST /api/v1/orders', 'https://api-futures.kucoin.com')).toMatchObject({ pool: 'Futures' });
    expect(() => table.lookup('POST /api/v1/orders')).toThrow(AmbiguousEndpointError);
  });

  it('knows the weights of the examples in RATE-LIMITS.md', () => {
    expect(table.lookup('POST /api/v1/hf/orders').weight).toBe(1);
    expect(table.lookup('GET /api/v1/market/orderbook/level1?symbol=BTC-USDT')).toMatchObject({ pool: 'Public', weight: 2 });
    expect(table.lookup('GET /api/v1/market/allTickers')).toMatchObject({ pool: 'Public', weight: 15 });
    expect(table.lookup('GET /api/v1/accounts')).toMatchObject({ pool: 'Management', weight: 5 });
  });

  it('charges the conservative default to an unknown endpoint, and to one listed without a weight', () => {
    expect(table.lookup('GET /api/v9/nothing', 'futures')).toMatchObject({ known: false, pool: 'Futures', weight: 30, weightAssumed: true });
    expect(table.lookup('GET /api/v1/recentFills', 'futures')).toMatchObject({ known: true, weight: 30, weightAssumed: true });
  });

  it('rejects malformed endpoints and hosts with a typed error', () => {
    for (const bad of ['', 'GET', '/api/v1/accounts', 'FETCH /api/v1/accounts', 'GET api/v1/accounts']) {
      expect(() => table.lookup(bad), bad).toThrow(InvalidEndpointError);
    }
    expect(() => table.lookup('GET /api/v1/accounts', 'binance.com')).toThrow(InvalidEndpointError);
  });
});
