/**
 * What a KuCoin error reply asks the attempt loop to do: the code's row of the error-code table
 * (src/kucoin/errorCodes.ts, docs/error-codes.md), read with the reply's host and message. The policy itself
 * (re-send, back off, open a circuit) is in src/send/attemptLoop.ts.
 */
import type { Classified } from '../kucoin/errorFeedback.js';
import type { HostName } from '../kucoin/endpointTypes.js';
import { lookupKucoinCode, type KucoinCodeCategory } from '../kucoin/errorCodes.js';

/** An error reply's meaning; undefined for a success (200000 with a 2xx status) or a reply with no code nor error status. */
export interface ReplyMeaning {
  /** The code looked up: KuCoin's code, or the HTTP status for a reply that carried none. */
  readonly code: string;
  /** The table's category; `unknown` for a code none of KuCoin's pages lists (a 5xx then counts as retry-later). */
  readonly category: KucoinCodeCategory | 'unknown';
  /** The table's word on sending it again (retry-later: reads and clientOid orders only). */
  readonly retryable: boolean;
}

/** The options of the actions, each with its default. */
export interface ErrorActionOptions {
  /** How long an auth failure opens the key's circuit before a probe may go; doubles at each failed probe. @default 60_000 */
  readonly keyCircuitOpenMs?: number;
  /** Longest the key's circuit stays open between probes. @default 900_000 (15 min) */
  readonly keyCircuitMaxOpenMs?: number;
  /** How long a 501000 (service stopping) pauses the host, for every process. @default 30_000 */
  readonly serviceStoppingPauseMs?: number;
  /**
   * The retry-later backoff of a host, shared by every process: base x 2^level, at most `maxMs`, jittered by
   * +-jitter/2; the level grows with each retry-later reply after the previous backoff ended.
   * @default { baseMs: 250, maxMs: 5_000, jitter: 0.5 }
   */
  readonly retryLaterBackoff?: { readonly baseMs?: number; readonly maxMs?: number; readonly jitter?: number };
}

export interface ResolvedErrorActions {
  readonly keyCircuitOpenMs: number;
  readonly keyCircuitMaxOpenMs: number;
  readonly serviceStoppingPauseMs: number;
  readonly retryLaterBackoff: { readonly baseMs: number; readonly maxMs: number; readonly jitter: number };
}

export function resolveErrorActions(o: ErrorActionOptions | undefined): ResolvedErrorActions {
  const b = o?.retryLaterBackoff;
  return {
    keyCircuitOpenMs: o?.keyCircuitOpenMs ?? 60_000,
    keyCircuitMaxOpenMs: o?.keyCircuitMaxOpenMs ?? 900_000,
    serviceStoppingPauseMs: o?.serviceStoppingPauseMs ?? 30_000,
    retryLaterBackoff: { baseMs: b?.baseMs ?? 250, maxMs: b?.maxMs ?? 5_000, jitter: b?.jitter ?? 0.5 },
  };
}

/** Reads an error reply against the table; never throws. */
export function meaningOf(host: HostName | undefined, classified: Classified): ReplyMeaning | undefined {
  const { code, status, msg } = classified;
  if (classified.signal) return { code: code ?? String(status ?? ''), category: 'rate-limit', retryable: true };
  const failedStatus = status !== undefined && status >= 400 ? String(status) : undefined;
  if (code === '200000' && failedStatus === undefined) return undefined;
  const key = code ?? failedStatus;
  if (key === undefined) return undefined;
  let info;
  try {
    info = lookupKucoinCode({ host: host ?? 'spot', code: key, msg });
    // a code the pages do not list: its HTTP status may still say what it is (401, 503...)
    if (!info && failedStatus !== undefined && failedStatus !== key) info = lookupKucoinCode({ host: host ?? 'spot', code: failedStatus });
  } catch {
    info = undefined;
  }
  // a refusal's code in a reply that is not KuCoin's refusal (classifyReply found no signal) proves nothing: its status decides
  if (info && info.category !== 'websocket' && info.category !== 'rate-limit') return { code: key, category: info.category, retryable: info.retryable };
  return { code: key, category: status !== undefined && status >= 500 ? 'retry-later' : 'unknown', retryable: status !== undefined && status >= 500 };
}
