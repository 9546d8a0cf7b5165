/**
 * What the proxy reads of a request's KuCoin headers, and no more: whether it is signed (`KC-API-SIGN`), the
 * key's account (by the key's hash), and how long its signature stays valid (`KC-API-TIMESTAMP` + 5 s by KuCoin's
 * clock). The key itself is hashed and dropped; the signature and passphrase are never read.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { apiKeyHash, type AccountEntry, type Accounts } from './accounts.js';
import type { LocalReply } from './localReply.js';

export interface Signature {
  /** The key's short id (first 12 hex digits of its SHA-256): logs, events, bot identity. */
  readonly keyId: string;
  /** The key's account; undefined for a key no account names (only a public endpoint may then be sent). */
  readonly account: AccountEntry | undefined;
  /** Epoch ms after which the request may not be forwarded: KC-API-TIMESTAMP + window - margin. */
  readonly forwardBy: number;
}

export type SignatureRead =
  /** No signature. `keyOnly`: a KC-API-KEY without KC-API-SIGN (python-kucoin sends its key on public calls too). */
  { readonly signed: false; readonly keyOnly: boolean } | { readonly signed: true; readonly signature: Signature } | { readonly refusal: LocalReply };

function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads the signature headers. `windowMs` is how far KuCoin lets a timestamp be from its clock (5 s); `marginMs`
 * is kept for the way to KuCoin (transit, clock skew), so a request is forwarded only while it will still arrive
 * in time.
 */
export function readSignature(headers: IncomingHttpHeaders, accounts: Accounts, windowMs: number, marginMs: number): SignatureRead {
  const key = one(headers, 'kc-api-key');
  const sign = one(headers, 'kc-api-sign');
  if (sign === undefined) return { signed: false, keyOnly: key !== undefined };
  if (key === undefined) return { refusal: { code: '400001', detail: 'KC-API-SIGN without KC-API-KEY' } };
  // one hash per request: the account is found by it, and its first 12 hex digits are the key's id (keyIdOf)
  const hash = apiKeyHash(key);
  const keyId = hash.slice(0, 12);
  const timestamp = one(headers, 'kc-api-timestamp');
  if (timestamp === undefined) return { refusal: { code: '400001', detail: `key ${keyId}: KC-API-TIMESTAMP is missing` } };
  if (!/^\d{1,16}$/.test(timestamp)) return { refusal: { code: '400002', detail: `key ${keyId}: KC-API-TIMESTAMP is not a number of milliseconds` } };
  return { signed: true, signature: { keyId, account: accounts.byHash(hash), forwardBy: Number(timestamp) + windowMs - marginMs } };
}
