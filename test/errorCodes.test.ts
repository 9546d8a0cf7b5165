import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { FEEDBACK_RULES } from '../src/kucoin/errorFeedback.js';
import { InvalidArgumentError } from '../src/errors.js';
import { KUCOIN_CODE_CATEGORIES, KUCOIN_CODE_CATEGORY_NAMES, KUCOIN_ERROR_CODES, lookupKucoinCode, type KucoinCodeQuery } from '../src/kucoin/errorCodes.js';
import { lookupKucoinCode as fromIndex, type KucoinCodeCategory as IndexCategory, type KucoinCodeInfo } from '../src/index.js';
import { WS_CODE_RULES } from '../src/ws/wsCodes.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const PAGES = ['000_14df08e5e17d3d94.txt', '001_f1117c8602749a8d.txt'];

/** The rows of the seed pages, read here on their own (not with the generator's parser): [code, message]. */
function pageRows(): [string, string][] {
  const rows: [string, string][] = [];
  for (const page of PAGES) {
    for (const line of readFileSync(join(root, 'data/seeds', page), 'utf8').split('\n')) {
      const m = /^(\d+)\t(.*)$/.exec(line) ?? /^\|?\s*(\d+)\s*\|(.*)\|\s*$/.exec(line);
      if (m) rows.push([m[1]!, m[2]!.trim()]);
    }
  }
  return rows;
}

const find = (q: KucoinCodeQuery) => {
  const r = lookupKucoinCode(q);
  return r && { product: r.product, category: r.category, action: r.action, retryable: r.retryable, matchedBy: r.matchedBy };
};

describe('the error-code table against the seed pages', () => {
  it('holds every code and every (code, message) pair of the pages', () => {
    const rows = pageRows();
    expect(rows.length).toBe(232); // 134 on page 000, 98 on page 001
    const pairs = new Set(KUCOIN_ERROR_CODES.map((e) => `${e.code}\t${e.message}`));
    const missing = rows.filter(([code, msg]) => !pairs.has(`${code}\t${msg}`));
    expect(missing).toEqual([]);
    expect(new Set(KUCOIN_ERROR_CODES.map((e) => e.code))).toEqual(new Set(rows.map(([c]) => c)));
    // and nothing more: the margin page lists two rows twice, word for word; the table keeps each once
    const twice = ['130101\tInterest rate exceeds limit.', '130202\tThe system is renewing the loan automatically. Please try again later'];
    for (const pair of twice) expect(rows.filter(([c, m]) => `${c}\t${m}` === pair)).toHaveLength(2);
    expect(KUCOIN_ERROR_CODES.length).toBe(rows.length - twice.length);
  });

  it('keys rows by product: one code means different things on spot and futures', () => {
    const on = (product: string, code: string) => KUCOIN_ERROR_CODES.filter((e) => e.product === product && e.code === code).map((e) => e.message);
    for (const code of ['200001', '200002', '200003']) {
      expect(on('spot', code)).toHaveLength(1);
      expect(on('futures', code).length).toBeGreaterThan(0);
      expect(on('futures', code)).not.toContain(on('spot', code)[0]);
    }
    expect(on('futures', '200002')).toHaveLength(2);
    const keys = KUCOIN_ERROR_CODES.map((e) => `${e.product} ${e.code} ${e.message}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("puts the issue's examples in their categories, with their actions", () => {
    const categoryOf = (product: string, code: string) => [
      ...new Set(KUCOIN_ERROR_CODES.filter((e) => e.product === product && e.code === code).map((e) => e.category)),
    ];
    expect(categoryOf('spot', '230005')).toEqual(['retry-later']);
    expect(categoryOf('gateway', '503000')).toEqual(['retry-later']);
    expect(categoryOf('gateway', '504000')).toEqual(['retry-later']);
    expect(categoryOf('margin', '408000')).toEqual(['retry-later']);
    for (const p of ['spot', 'futures', 'margin', 'gateway']) expect(categoryOf(p, '500000')).toEqual(['retry-later']);
    for (const p of ['spot', 'futures', 'gateway']) expect(categoryOf(p, '400002')).toEqual(['clock']);
    for (let c = 400003; c <= 400012; c++) expect(categoryOf('gateway', String(c))).toEqual(['auth']);
    for (const p of ['spot', 'futures'])
      for (const c of ['400001', '400003', '400004', '400005', '400006', '400007', '411100']) expect(categoryOf(p, c)).toEqual(['auth']);
    for (const c of ['400301', '400302', '400303', '400304']) expect(categoryOf('gateway', c)).toEqual(['region-kyc']);
    expect(categoryOf('spot', '200009')).toEqual(['region-kyc']);
    expect(categoryOf('margin', '126021')).toEqual(['region-kyc']);
    expect(categoryOf('gateway', '501000')).toEqual(['service-stopping']);
    expect(categoryOf('spot', '200004')).toEqual(['business']);
    // the five rate-limit signals, each with the feedback rule it stands for
    const signals = KUCOIN_ERROR_CODES.filter((e) => e.category === 'rate-limit').map((e) => `${e.product} ${e.code} ${e.signal}`);
    expect(signals).toEqual([
      'http 403 http-403',
      'futures 1015 1015',
      'futures 200002 200002',
      'futures 429000 429000',
      'gateway 429000 429000',
      'gateway 429001 429001',
      'gateway 429002 429002',
    ]);
    for (const e of KUCOIN_ERROR_CODES.filter((r) => r.category === 'rate-limit')) expect(Object.keys(FEEDBACK_RULES)).toContain(e.signal);
    // every row: its category's action (WebSocket rows: a reaction), a status for REST rows
    for (const e of KUCOIN_ERROR_CODES) {
      const info = KUCOIN_CODE_CATEGORIES[e.category];
      if (e.category !== 'websocket') expect([e.action, e.retryable]).toEqual([info.action, info.retryable]);
      expect(e.status === null).toBe(e.product === 'websocket');
    }
    expect(Object.keys(KUCOIN_CODE_CATEGORIES)).toEqual([...KUCOIN_CODE_CATEGORY_NAMES]);
    for (const c of KUCOIN_CODE_CATEGORY_NAMES) expect(KUCOIN_ERROR_CODES.some((e) => e.category === c)).toBe(true);
  });

  it('gives every WebSocket row the reaction the connection manager has for it (WS_CODE_RULES)', () => {
    const ws = KUCOIN_ERROR_CODES.filter((e) => e.category === 'websocket');
    expect(ws).toHaveLength(15);
    for (const e of ws) {
      expect(e.product).toBe('websocket');
      expect(WS_CODE_RULES.some((r) => r.code === Number(e.code) && r.text.test(e.message) && r.reaction === e.action)).toBe(true);
    }
  });

  it('the committed table and docs are what the generator makes from data/seeds (deterministic)', () => {
    const ts = join(root, 'src/kucoin/errorCodes.generated.ts');
    const md = join(root, 'docs/error-codes.md');
    const committed = [readFileSync(ts, 'utf8'), readFileSync(md, 'utf8')];
    expect(() => execFileSync('node', ['scripts/gen-error-codes.mjs', '--check'], { cwd: root, stdio: 'pipe' })).not.toThrow();
    execFileSync('node', ['scripts/gen-error-codes.mjs'], { cwd: root, stdio: 'ignore' });
    expect([readFileSync(ts, 'utf8'), readFileSync(md, 'utf8')]).toEqual(committed);
    for (const e of KUCOIN_ERROR_CODES) expect(committed[1]).toContain(`| ${e.code} | ${e.message.replace(/\|/g, '\\|')} | ${e.category} |`);
  });

  it('stops on a row whose category nobody decided, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-seeds-'));
    try {
      for (const p of PAGES) copyFileSync(join(root, 'data/seeds', p), join(dir, p));
      expect(() => execFileSync('node', ['scripts/gen-error-codes.mjs', '--check', '--seeds', dir], { cwd: root, stdio: 'pipe' })).not.toThrow();
      appendFileSync(join(dir, PAGES[0]!), '151999\tA new earn error\n');
      let stderr = '';
      try {
        execFileSync('node', ['scripts/gen-error-codes.mjs', '--check', '--seeds', dir], { cwd: root, stdio: 'pipe' });
      } catch (e) {
        stderr = String((e as { stderr: Buffer }).stderr);
      }
      expect(stderr).toContain('no category decided for earn 151999 "A new earn error"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lookupKucoinCode', () => {
  it('lets the message decide where one code has several meanings (200002)', () => {
    expect(find({ host: 'futures', code: '200002', msg: 'Too many requests in a short period of time, please retry later' })).toMatchObject({
      category: 'rate-limit',
      action: 'pause-and-resend',
      retryable: true,
      matchedBy: 'message',
    });
    expect(lookupKucoinCode({ host: 'futures', code: 200002, msg: 'Too many requests in a short period of time, please retry later' })?.signal).toBe('200002');
    expect(find({ host: 'futures', code: '200002', msg: 'The query scope for Level 3 cannot exceed 100' })).toMatchObject({
      category: 'business',
      action: 'fail',
      retryable: false,
      matchedBy: 'message',
    });
    // a 200002 "too many requests" is the business-layer rate limit on any host; spot's own 200002 is not
    expect(find({ host: 'spot', code: '200002', msg: 'Too many requests in a short period of time, please retry later' })).toMatchObject({
      category: 'rate-limit',
    });
    expect(find({ host: 'spot', code: '200002', msg: 'Order cancel for this pair suspended' })).toMatchObject({
      product: 'spot',
      category: 'business',
      matchedBy: 'message',
    });
  });

  it('without a message (or an unknown one), an ambiguous code gets the meaning that does least', () => {
    expect(find({ host: 'futures', code: '200002' })).toMatchObject({ category: 'business', matchedBy: 'code' });
    expect(find({ host: 'futures', code: '200002', msg: 'something else entirely' })).toMatchObject({ category: 'business', matchedBy: 'code' });
    expect(find({ host: 'spot', code: '130202' })).toMatchObject({ product: 'margin', category: 'business' });
    expect(find({ host: 'spot', code: '400400' })).toMatchObject({ product: 'margin', category: 'business' });
    expect(find({ host: 'spot', code: '400400', msg: 'Invalid authorization token.' })).toMatchObject({
      product: 'gateway',
      category: 'auth',
      action: 'open-key-circuit',
    });
    // a code with one meaning needs no message
    expect(find({ host: 'spot', code: '400002' })).toMatchObject({ category: 'clock', action: 'sync-clock-and-resend', retryable: true });
    expect(find({ host: 'spot', code: '501000' })).toMatchObject({ category: 'service-stopping', action: 'pause-host' });
    expect(find({ host: 'futures', code: '429000' })).toMatchObject({ category: 'rate-limit', matchedBy: 'code' });
  });

  it('matches placeholders ({0}, xxx, %s) and tolerates case, punctuation and extra words', () => {
    expect(
      find({ host: 'spot', code: '130203', msg: 'The maximum borrowing amount has been exceeded. Your remaining available borrowing: 12.5USDT' }),
    ).toMatchObject({ category: 'business', matchedBy: 'message' });
    expect(find({ host: 'futures', code: '300001', msg: 'Active order quantity limit exceeded (limit: 200, current: 200)' })).toMatchObject({
      matchedBy: 'message',
    });
    expect(find({ host: 'spot', code: '400006', msg: 'Invalid request IP, the current client IP is: 203.0.113.7.' })).toMatchObject({
      product: 'gateway',
      category: 'auth',
      matchedBy: 'message',
    });
    expect(find({ host: 'spot', code: '600203', msg: 'Symbol BTC-USDT cant be traded' })).toMatchObject({ category: 'business', matchedBy: 'message' });
    expect(find({ host: 'spot', code: '200004', msg: 'Balance insufficient!' })).toMatchObject({ category: 'business', matchedBy: 'message' });
    expect(find({ host: 'spot', code: '429000', msg: 'Too many requests. User-level rate limit exceeded.' })).toMatchObject({
      category: 'rate-limit',
      matchedBy: 'message',
    });
    // the message picks the row: the gateway's 400001 is a URL error, the spot page's is missing headers
    expect(find({ host: 'spot', code: '400001', msg: 'Please check the URL of your request.' })).toMatchObject({ product: 'gateway', category: 'request' });
    expect(
      find({ host: 'spot', code: '400001', msg: 'Any of KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE is missing in your request header' }),
    ).toMatchObject({ product: 'spot', category: 'auth' });
    expect(find({ host: 'spot', code: '130202', msg: 'A borrowing is in progress. Please try again later' })).toMatchObject({
      category: 'retry-later',
      action: 'backoff-and-resend',
    });
    expect(find({ host: 'spot', code: '130202', msg: 'Please pay off all debts before proceeding' })).toMatchObject({ category: 'business' });
  });

  it('keys by host: a code of another product is unknown there, except rate limits', () => {
    expect(lookupKucoinCode({ host: 'futures', code: '130101' })).toBeUndefined();
    expect(lookupKucoinCode({ host: 'spot', code: '300018' })).toBeUndefined();
    expect(lookupKucoinCode({ host: 'spot', code: '999999' })).toBeUndefined();
    expect(find({ host: 'spot', code: '1015' })).toMatchObject({ category: 'rate-limit' });
    expect(lookupKucoinCode({ host: 'spot', code: '1015' })?.signal).toBe('1015');
    expect(find({ host: 'spot', code: '300018', product: 'futures' })).toMatchObject({ category: 'business' });
    expect(find({ host: 'spot', code: '500000', product: 'margin' })).toMatchObject({ product: 'margin', category: 'retry-later' });
    expect(find({ host: 'websocket', code: 509, msg: 'exceed max permits per second' })).toMatchObject({
      category: 'websocket',
      action: 'slow-down',
      retryable: true,
    });
    expect(find({ host: 'websocket', code: '400', msg: 'topic is invalid' })).toMatchObject({ action: 'refuse-topic', retryable: false });
    expect(find({ host: 'websocket', code: 420001 })).toMatchObject({ action: 'reconnect-later' });
    expect(find({ host: 'spot', code: '403' })).toMatchObject({ product: 'http', category: 'rate-limit' });
    expect(lookupKucoinCode({ host: 'spot', code: '403' })?.signal).toBe('http-403');
  });

  it('answers bad queries with a typed error at once', () => {
    const bad: unknown[] = [
      undefined,
      null,
      'spot',
      { host: 'binance', code: '1' },
      { host: 'spot' },
      { host: 'spot', code: {} },
      { host: 'spot', code: 1.5 },
      { host: 'spot', code: 'x'.repeat(33) },
      { host: 'spot', code: '1', msg: 42 },
      { host: 'spot', code: '1', product: 'options' },
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
        },
      ),
    ];
    for (const [i, q] of bad.entries()) {
      let error: unknown;
      try {
        lookupKucoinCode(q as KucoinCodeQuery);
      } catch (e) {
        error = e;
      }
      expect(error, `query #${i}`).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe('KS_INVALID_ARGUMENT');
    }
    expect(() => lookupKucoinCode({ host: 'spot', code: '1', msg: 'x'.repeat(1_000_000) })).not.toThrow();
  });

  it('never throws anything but InvalidArgumentError, and well-formed queries never throw (2,000 inputs)', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true }), (q) => {
        try {
          lookupKucoinCode(q as KucoinCodeQuery);
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 1_000 },
    );
    const hosts = fc.constantFrom('spot' as const, 'futures' as const, 'broker' as const, 'websocket' as const);
    const codes = fc.oneof(fc.constantFrom(...KUCOIN_ERROR_CODES.map((e) => e.code)), fc.string({ maxLength: 32 }), fc.integer({ min: 0 }));
    fc.assert(
      fc.property(
        hosts,
        codes,
        fc.option(fc.oneof(fc.string(), fc.constantFrom(...KUCOIN_ERROR_CODES.map((e) => e.message))), { nil: undefined }),
        (host, code, msg) => {
          const r = lookupKucoinCode({ host, code, msg });
          if (r) expect(KUCOIN_ERROR_CODES).toContain(r.entry);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('public API', () => {
  it('is exported from the package index, with literal types to switch on', () => {
    expect(fromIndex).toBe(lookupKucoinCode);
    expectTypeOf(fromIndex({ host: 'spot', code: '200004' })).toEqualTypeOf<KucoinCodeInfo | undefined>();
    expectTypeOf<IndexCategory>().toEqualTypeOf<
      'rate-limit' | 'retry-later' | 'clock' | 'auth' | 'region-kyc' | 'restricted' | 'business' | 'request' | 'service-stopping' | 'websocket'
    >();
    expectTypeOf<KucoinCodeInfo['retryable']>().toEqualTypeOf<boolean>();
  });
});
