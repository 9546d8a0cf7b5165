import type { BucketState } from '../store/types.js';
import type { ProxyRecord } from '../proxy/proxyStatus.js';
import { nothingThere } from './accountKeys.js';

/** What `status` reports: the store's view of every bucket of one account, shared by all its processes. */
export interface FleetStatus {
  /** Redis time the buckets were read at (epoch ms). */
  readonly at: number;
  readonly prefix: string;
  readonly uid: string;
  readonly ip: string;
  readonly quotaGroup: string;
  /** True when Redis held no key of the quota group: every bucket below is a default, nothing was ever counted. */
  readonly empty: boolean;
  /** Live processes of the quota group (their ResilientStore heartbeats); ids are random per process. */
  readonly processes: { readonly count: number; readonly ids: readonly string[] };
  readonly buckets: readonly BucketState[];
  /** The running proxies of the quota group and their traffic (`kucoin-scheduler proxy --redis`). */
  readonly proxies?: readonly ProxyRecord[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A short name for a bucket id: `uid:123:Spot` -> `Spot`, `ip:default:cloudflare` -> `cloudflare (IP)`. */
function label(id: string, s: FleetStatus): string {
  if (id.startsWith(`uid:${s.uid}:ep:`)) return `endpoint ${id.slice(`uid:${s.uid}:ep:`.length)}`;
  if (id.startsWith(`uid:${s.uid}:`)) return id.slice(`uid:${s.uid}:`.length);
  if (id.startsWith(`ip:${s.ip}:`)) return `${id.slice(`ip:${s.ip}:`.length)} (IP)`;
  return id;
}

function windowEnd(b: BucketState, now: number): string {
  if (b.windowEndHigh <= now) return '-';
  return b.windowEndLow > now ? `in ${seconds(b.windowEndLow - now)}` : `by ${seconds(b.windowEndHigh - now)}`;
}

const clip = (line: string, width: number) => (line.length > width ? `${line.slice(0, width - 1)}…` : line);

/**
 * The human view of `status`: one line per bucket, never wider than `width` (79 by default: an 80-column
 * terminal does not wrap). Idle buckets (nothing used, no pause, factor 1) are only named.
 */
export function renderStatus(s: FleetStatus, width = 79): string[] {
  const lines = [
    `kucoin-scheduler status  prefix ${s.prefix}  uid ${s.uid}  ip ${s.ip}`,
    `Redis time ${new Date(s.at).toISOString()}   live processes ${s.processes.count}${s.quotaGroup !== s.uid ? ` (group ${s.quotaGroup})` : ''}`,
    ...(s.empty ? ['', ...wrapWords(nothingThere(s.prefix, s.uid, s.quotaGroup), width)] : []),
    '',
    `${'bucket'.padEnd(16)}${'used'.padStart(7)} / ${'limit'.padEnd(13)}${'factor'.padStart(6)}  ${'window ends'.padEnd(11)}  ${'paused'.padEnd(9)}${'hidden'.padStart(7)}`,
  ];
  const idle: string[] = [];
  for (const b of s.buckets) {
    const paused = b.pausedUntil > s.at ? `${seconds(b.pausedUntil - s.at)}` : '-';
    const limit = b.effectiveLimit === b.limit ? String(b.limit) : `${b.effectiveLimit} of ${b.limit}`;
    if (b.used === 0 && paused === '-' && b.factor === 1 && b.hidden === 0 && b.windowEndHigh <= s.at) {
      idle.push(label(b.id, s));
      continue;
    }
    lines.push(
      `${label(b.id, s).padEnd(16)}${String(b.used).padStart(7)} / ${limit.padEnd(13)}${b.factor.toFixed(2).padStart(6)}  ${windowEnd(b, s.at).padEnd(11)}  ${paused.padEnd(9)}${String(b.hidden).padStart(7)}`,
    );
  }
  const out = lines.map((l) => clip(l, width));
  // idle buckets: as many lines as their names need
  let line = 'idle:';
  for (const name of idle) {
    if (line.length + name.length + 2 > width && line !== 'idle:') {
      out.push(`${line},`);
      line = '     ';
    }
    line += `${line.endsWith(':') || line.trim() === '' ? ' ' : ', '}${name}`;
  }
  if (idle.length > 0) out.push(line);
  out.push(...renderProxies(s.proxies ?? []).map((l) => clip(l, width)));
  return out;
}

/** One line per proxy: what it forwarded, what it answered itself (by code), what is in it now. */
function renderProxies(proxies: readonly ProxyRecord[]): string[] {
  if (proxies.length === 0) return [];
  const lines = ['', `proxies ${proxies.length}`];
  for (const p of proxies) {
    const refused = Object.entries(p.stats.refused)
      .map(([code, n]) => `${code} x${n}`)
      .join(', ');
    const signals = Object.entries(p.stats.signals)
      .map(([signal, n]) => `${signal} x${n}`)
      .join(', ');
    lines.push(
      `  ${p.url}  forwarded ${p.stats.forwarded}  answered locally ${refused || '0'}  KuCoin signals ${signals || '0'}  in flight ${p.stats.inFlight}  websockets ${p.stats.websockets}`,
    );
  }
  return lines;
}

/** Splits a sentence into lines of at most `width` characters, at spaces. */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}
