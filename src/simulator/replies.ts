import type { ServerResponse } from 'node:http';

export type Headers = Record<string, string>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
}

/** KuCoin's error envelope. */
export function sendError(res: ServerResponse, status: number, code: string, msg: string, headers: Headers = {}): void {
  sendJson(res, status, { code, msg }, headers);
}

let ray = 0x7a3f00;
/** Cloudflare's 1015 page: HTML, Retry-After, `server: cloudflare`, `cf-ray`. */
export function sendCloudflare1015(res: ServerResponse, retryAfterSec: number): void {
  const html = `<!DOCTYPE html>
<html lang="en-US"><head><title>Access denied | api.kucoin.com used Cloudflare to restrict access</title></head>
<body><div id="cf-wrapper"><h1><span>Error</span><span>1015</span></h1>
<h2>You are being rate limited</h2>
<p>The owner of this website (api.kucoin.com) has banned you temporarily from accessing this website.</p>
<span>error code: 1015</span></div></body></html>`;
  res
    .writeHead(429, {
      'content-type': 'text/html; charset=UTF-8',
      'content-length': Buffer.byteLength(html),
      'retry-after': String(retryAfterSec),
      server: 'cloudflare',
      'cf-ray': `${(ray++).toString(16)}-SIM`,
    })
    .end(html);
}

export function rateLimitHeaders(limit: number, remaining: number, resetMs: number): Headers {
  return {
    'gw-ratelimit-limit': String(limit),
    // an integer, as KuCoin sends it (a hidden consumer configured with a fractional weight leaves a fraction)
    'gw-ratelimit-remaining': String(Math.max(0, Math.floor(remaining))),
    'gw-ratelimit-reset': String(Math.max(0, Math.round(resetMs))),
  };
}
