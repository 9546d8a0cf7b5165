import type { HostName } from './endpointTypes.js';

/** KuCoin's production REST origins, by host: the one list of hosts. */
export const KUCOIN_BASE_URLS: Readonly<Record<HostName, string>> = {
  spot: 'https://api.kucoin.com',
  futures: 'https://api-futures.kucoin.com',
  broker: 'https://api-broker.kucoin.com',
};

/** KuCoin's production hostnames, each with the host it is. */
export const KUCOIN_HOSTNAMES: Readonly<Record<string, HostName>> = Object.fromEntries(
  Object.entries(KUCOIN_BASE_URLS).map(([host, url]) => [new URL(url).hostname, host as HostName]),
);

/**
 * Which host a request's `host` (hostname[:port]) is: KuCoin's production hostnames, `extra` ones (an SDK's own
 * defaults), then the origins a client was pointed at (`baseUrls`, by host; a missing one is skipped), which win.
 */
export function hostsByOrigin(
  baseUrls: Partial<Record<HostName, string | undefined>> = {},
  extra: Readonly<Record<string, HostName>> = {},
): Map<string, HostName> {
  const hosts = new Map<string, HostName>(Object.entries({ ...KUCOIN_HOSTNAMES, ...extra }));
  for (const [host, url] of Object.entries(baseUrls)) if (url) hosts.set(new URL(url).host, host as HostName);
  return hosts;
}
