import { createHash, createHmac } from 'node:crypto';

/** An API key's credentials. `keyVersion` 2 and 3 send the passphrase HMAC-signed; 1 sends it plain. */
export interface Credentials {
  readonly key: string;
  readonly secret: string;
  readonly passphrase: string;
  /** @default '2' */
  readonly keyVersion?: '1' | '2' | '3' | 1 | 2 | 3;
}

/** base64(HMAC-SHA256(secret, payload)). */
export function hmacBase64(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload, 'utf8').digest('base64');
}

/**
 * `KC-API-SIGN` over timestamp + METHOD + path with its query (un-encoded, exactly as sent) + body
 * (the exact bytes sent; "" when none).
 */
export function signRequest(secret: string, timestamp: string, method: string, pathWithQuery: string, body: string): string {
  return hmacBase64(secret, `${timestamp}${method.toUpperCase()}${pathWithQuery}${body}`);
}

/** The signed headers of one request. */
export function authHeaders(credentials: Credentials, method: string, pathWithQuery: string, body: string, now: number = Date.now()): Record<string, string> {
  const version = String(credentials.keyVersion ?? '2');
  const timestamp = String(now);
  return {
    'KC-API-KEY': credentials.key,
    'KC-API-TIMESTAMP': timestamp,
    'KC-API-SIGN': signRequest(credentials.secret, timestamp, method, pathWithQuery, body),
    'KC-API-PASSPHRASE': version === '1' ? credentials.passphrase : hmacBase64(credentials.secret, credentials.passphrase),
    'KC-API-KEY-VERSION': version,
  };
}

/** A short id of an API key for its circuit, events and errors (first 12 hex digits of its SHA-256): never the key itself. */
export function keyIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
