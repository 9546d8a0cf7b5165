import type { GatewayReply } from './errorFeedback.js';

type Common = { code?: string; rateLimit?: { limit: number; remaining: number; reset: number } } | null | undefined;

/** Reads the rate-limit headers of a kucoin-universal-sdk response (`commonResponse.rateLimit`). */
export function sdkReplyOf(result: unknown): GatewayReply | undefined {
  const r = result as { commonResponse?: Common; getCommonResponse?: () => Common } | null | undefined;
  const common = r?.commonResponse ?? (typeof r?.getCommonResponse === 'function' ? r.getCommonResponse() : undefined);
  const rl = common?.rateLimit;
  if (!rl) return undefined;
  return {
    status: 200,
    headers: { 'gw-ratelimit-limit': String(rl.limit), 'gw-ratelimit-remaining': String(rl.remaining), 'gw-ratelimit-reset': String(rl.reset) },
    body: { code: common?.code ?? '200000' },
  };
}
