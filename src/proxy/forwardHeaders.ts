/**
 * Which headers cross the proxy. Every end-to-end header goes through unchanged, in its order and spelling
 * (`KC-API-KEY`, `KC-API-SIGN`, `KC-API-TIMESTAMP`, `KC-API-PASSPHRASE`, `KC-API-KEY-VERSION`, `KC-API-PARTNER*`,
 * `Content-Type`...). Dropped: hop-by-hop headers (RFC 9110 section 7.6.1, and any the `Connection` header names),
 * `Host` (the upstream's is set), `Content-Length` (set from the body sent), `Expect`, and the proxy's own
 * headers (`X-Proxy-To`, `X-Proxy-Config`, `X-KS-*`), which no KuCoin signature covers.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const REQUEST_ONLY = new Set(['host', 'content-length', 'expect', 'x-proxy-to', 'x-proxy-config']);
const REPLY_ONLY = new Set(['content-length']);

/** Header names the `Connection` header lists (they are hop-by-hop for this hop only). */
function connectionListed(rawHeaders: readonly string[]): Set<string> {
  const listed = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) listed.add(name);
    }
  }
  return listed;
}

function filter(rawHeaders: readonly string[], drop: (lowerName: string) => boolean): string[] {
  const listed = connectionListed(rawHeaders);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || drop(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

/** The bot's headers as they go to KuCoin (flat `[name, value, ...]`, as received), with the upstream's `Host`. */
export function requestHeaders(rawHeaders: readonly string[], upstreamHost: string): string[] {
  const out = filter(rawHeaders, (n) => REQUEST_ONLY.has(n) || n.startsWith('x-ks-'));
  out.push('host', upstreamHost);
  return out;
}

/** KuCoin's reply headers as they go back to the bot (flat `[name, value, ...]`); `Content-Length` is set from the body. */
export function replyHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) raw.push(name, v);
  }
  return filter(raw, (n) => REPLY_ONLY.has(n));
}
