/**
 * Where a request goes, and exactly what is sent there. Three ways in, one rule out:
 *
 * - a path prefix on the main port: `/spot/api/v1/...`, `/futures/...`, `/broker/...`;
 * - a port of its own per KuCoin host (`hostPorts`): the whole target goes to that host;
 * - the official Go SDK's `WithSnitchProxyURL` contract: any path, with the real URL in `X-Proxy-To`.
 *
 * The request target after the prefix (or in `X-Proxy-To`) is forwarded byte for byte: never decoded,
 * re-encoded or re-ordered (clients sign the unencoded query and send it encoded, so any change breaks the
 * signature). A target outside KuCoin's hosts or the configured upstreams is refused: this is not an open proxy.
 */
import type { HostName } from '../kucoin/endpointTypes.js';
import { KUCOIN_HOSTNAMES } from '../kucoin/hosts.js';
import type { LocalReply } from './localReply.js';

export const HOST_NAMES: readonly HostName[] = ['spot', 'futures', 'broker'];

/** The header the Go SDK's snitch proxy contract names the real target with. */
export const PROXY_TO_HEADER = 'x-proxy-to';

/** A request target the proxy forwards: `/api/v1/...` with its query as received; printable bytes, no fragment. */
const TARGET = /^\/[\u0021-\u0022\u0024-\u007e\u0080-\u00ff]*$/;
const ABSOLUTE = /^(https?):\/\/([^/?#]*)(.*)$/is;

export interface Route {
  readonly host: HostName;
  /** The upstream origin, e.g. `https://api.kucoin.com`. */
  readonly origin: string;
  /** Its `host[:port]`: the Host header sent upstream. */
  readonly authority: string;
  /** Path and query exactly as the bot sent them (and signed them, decoded or not). */
  readonly target: string;
  /** The path alone, for the endpoint table. */
  readonly path: string;
}

export type Routed = { readonly route: Route } | { readonly refusal: LocalReply };

/** The allow-list: each host's upstream origin, and which origins name which host. */
export class Upstreams {
  readonly #origins: Readonly<Record<HostName, string>>;
  readonly #authorities: Readonly<Record<HostName, string>>;
  /** `protocol//host` (default port dropped) -> host */
  readonly #allowed = new Map<string, HostName>();

  constructor(origins: Readonly<Record<HostName, string>>) {
    this.#origins = origins;
    this.#authorities = Object.fromEntries(HOST_NAMES.map((h) => [h, new URL(origins[h]).host])) as Record<HostName, string>;
    // KuCoin's production hostnames (https) name their host; its upstream is the one configured for that host
    for (const [hostname, host] of Object.entries(KUCOIN_HOSTNAMES)) this.#allowed.set(`https://${hostname}`, host);
    for (const host of HOST_NAMES) this.#allowed.set(new URL(origins[host]).origin, host);
  }

  origin(host: HostName): string {
    return this.#origins[host];
  }

  authority(host: HostName): string {
    return this.#authorities[host];
  }

  /** The host a `scheme://authority` names, if it is on the allow-list. */
  hostOf(scheme: string, authority: string): HostName | undefined {
    if (authority === '' || authority.includes('@')) return undefined; // no userinfo: it could hide the real host
    let origin: string;
    try {
      origin = new URL(`${scheme.toLowerCase()}://${authority}`).origin;
    } catch {
      return undefined;
    }
    return this.#allowed.get(origin);
  }
}

function routeTo(upstreams: Upstreams, host: HostName, target: string): Routed {
  if (!TARGET.test(target)) return { refusal: { code: 'KS_PROXY_BAD_REQUEST', detail: 'the request target must be a path with printable characters' } };
  const q = target.indexOf('?');
  return { route: { host, origin: upstreams.origin(host), authority: upstreams.authority(host), target, path: q < 0 ? target : target.slice(0, q) } };
}

/**
 * Routes one request. `fixedHost` is set on a host's own port. `proxyTo` is the `X-Proxy-To` value, if any.
 * Never throws: a request that cannot be routed gets a local answer.
 */
export function routeRequest(upstreams: Upstreams, url: string, proxyTo: string | undefined, fixedHost: HostName | undefined): Routed {
  if (proxyTo !== undefined) {
    const m = ABSOLUTE.exec(proxyTo);
    if (!m) return { refusal: { code: 'KS_PROXY_BAD_REQUEST', detail: 'X-Proxy-To must be an absolute http(s) URL' } };
    const host = upstreams.hostOf(m[1]!, m[2]!);
    if (!host) return { refusal: { code: 'KS_PROXY_TARGET_REFUSED', detail: 'X-Proxy-To names a host outside the allow-list' } };
    return routeTo(upstreams, host, m[3] === '' ? '/' : m[3]!);
  }
  if (fixedHost) return routeTo(upstreams, fixedHost, url);
  for (const host of HOST_NAMES) {
    if (url.startsWith(`/${host}/`)) return routeTo(upstreams, host, url.slice(host.length + 1));
  }
  return { refusal: { code: 'KS_PROXY_NOT_FOUND' } };
}
