/**
 * Which requests may be sent twice, for every client the attempt loop serves (KucoinClient, the undici
 * interceptor, kucoin-universal-sdk, ccxt, kucoin-node-sdk): one rule, read from the bytes sent.
 */

/**
 * A clientOid KuCoin de-duplicates: a non-blank string (a repeated one is refused, spot 126044, futures 300018).
 * `""`, `"  "`, a number or null is no clientOid: KuCoin gives such an order an id of its own.
 */
function isClientOid(value: unknown): boolean {
  return typeof value === 'string' && /\S/.test(value);
}

/**
 * Whether a request may be sent again after a timeout, a 5xx or a refusal whose status is unknown: a read
 * (GET), or a body (JSON text, its bytes, or the object serialised) whose top-level `clientOid` is one
 * (`isClientOid`). Anything else may have been executed by the first send and is sent once. Never throws.
 */
export function isSafeToRepeat(method: string, body: unknown): boolean {
  if (typeof method === 'string' && method.toUpperCase() === 'GET') return true;
  try {
    let parsed: unknown = body;
    if (body instanceof Uint8Array) parsed = JSON.parse(Buffer.from(body).toString('utf8'));
    else if (typeof body === 'string') parsed = body.trimStart().startsWith('{') ? JSON.parse(body) : undefined;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && isClientOid((parsed as { clientOid?: unknown }).clientOid);
  } catch {
    return false; // not JSON, or a getter that throws: no clientOid can be read
  }
}
