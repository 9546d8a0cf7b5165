import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { hmacBase64, signRequest } from '../kucoin/signing.js';

export interface SimAccount {
  readonly key: string;
  readonly secret: string;
  readonly passphrase: string;
  readonly uid: string;
  /** VIP level: picks the pool quotas the simulator applies (unknown to a scheduler configured otherwise). */
  readonly vipLevel?: number;
}

export type AuthResult = { ok: true; account: SimAccount } | { ok: false; code: string; msg: string };

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * The request target as a client signs it: clients sign the unencoded query and send it encoded (`%2C`, or `+` for
 * a space, as Go's and Python's query encoders do), so the gateway checks the signature against the decoded target
 * too. Undefined when the target has nothing encoded or is malformed.
 */
export function decodedTarget(target: string): string | undefined {
  if (!/[%+]/.test(target)) return undefined;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? undefined : target.slice(q + 1);
  try {
    const decoded = decodeURIComponent(path) + (query === undefined ? '' : `?${decodeURIComponent(query.replace(/\+/g, ' '))}`);
    return decoded === target ? undefined : decoded;
  } catch {
    return undefined; // a malformed escape: only the raw target can match
  }
}

/**
 * Checks KuCoin's signed headers like the gateway: key, timestamp within 5 s, passphrase, signature (over the target
 * as sent, or as decoded: see `decodedTarget`).
 */
export function authenticate(
  accounts: ReadonlyMap<string, SimAccount>,
  headers: IncomingHttpHeaders,
  method: string,
  pathWithQuery: string,
  body: string,
  now: number,
): AuthResult {
  const h = (n: string) => {
    const v = headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const key = h('kc-api-key');
  const ts = h('kc-api-timestamp');
  const sign = h('kc-api-sign');
  const passphrase = h('kc-api-passphrase');
  if (!key || !ts || !sign || !passphrase)
    return { ok: false, code: '400001', msg: 'Any of KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE is missing in your request header' };
  if (!/^\d+$/.test(ts) || Math.abs(Number(ts) - now) > 5_000) return { ok: false, code: '400002', msg: 'KC-API-TIMESTAMP Invalid' };
  const account = accounts.get(key);
  if (!account) return { ok: false, code: '400003', msg: 'KC-API-KEY not exists' };
  const version = h('kc-api-key-version') ?? '1';
  const expectedPass = version === '1' ? account.passphrase : hmacBase64(account.secret, account.passphrase);
  if (!same(passphrase, expectedPass)) return { ok: false, code: '400004', msg: 'KC-API-PASSPHRASE error' };
  const decoded = decodedTarget(pathWithQuery);
  const signed = (target: string) => same(sign, signRequest(account.secret, ts, method, target, body));
  if (!signed(pathWithQuery) && (decoded === undefined || !signed(decoded))) return { ok: false, code: '400005', msg: 'Signature error' };
  return { ok: true, account };
}
