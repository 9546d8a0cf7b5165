#!/usr/bin/env node
// Generates src/kucoin/errorCodes.generated.ts and docs/error-codes.md from KuCoin's error-code pages kept in
// data/seeds/ (see data/seeds/README.md). Every row of the pages becomes one entry: product, code, message
// (placeholders `{0}`, `xxx`, `%s` kept), category, action, retryable, HTTP status. The category of every
// (product, code[, message]) is decided below in CATEGORY_RULES; a row without a decision, or a decision that
// no row uses, stops the generator, so a new seed page cannot slip in unclassified.
//   node scripts/gen-error-codes.mjs           (re)writes both files (npm run gen:errors)
//   node scripts/gen-error-codes.mjs --check   exits 1, naming the stale files, when one differs
//   --seeds DIR                                reads the pages from DIR instead of data/seeds (for tests)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const seedsArg = process.argv.indexOf('--seeds');
const seedsDir = seedsArg >= 0 ? resolve(process.argv[seedsArg + 1] ?? '') : join(root, 'data/seeds');
const SEEDS = ['000_14df08e5e17d3d94.txt', '001_f1117c8602749a8d.txt'].map((f) => join(seedsDir, f));
const OUT_TS = 'src/kucoin/errorCodes.generated.ts';
const OUT_MD = 'docs/error-codes.md';

// ---------------------------------------------------------------------------------------------------------
// 1. Parse the pages. Each heading sets the product (and the section shown in the docs); rows are
//    `code<TAB>meaning` (page 000) or `| code | meaning |` / `code | meaning |` (page 001).
// ---------------------------------------------------------------------------------------------------------

/** [heading as it appears, product, section label] */
const HEADINGS = [
  ['HTTP Errors Code', 'http', 'HTTP status codes'],
  ['Spot Errors Code', 'spot', 'Spot'],
  ['Margin Errors Code', 'margin', 'Margin (low and high frequency)'],
  ['This table is the error codes unique to margin high frequency', 'margin', 'Margin (high frequency only)'],
  ['Futures Errors Code', 'futures', 'Futures'],
  ['Earn Errors Code', 'earn', 'Earn'],
  ['Possible error codes when subscribing#', 'websocket', 'WebSocket: when subscribing'],
  ['Possible error codes when establishing WebSocket connection#', 'websocket', 'WebSocket: when connecting'],
  ['Other error codes:#', 'websocket', 'WebSocket: other'],
  ['1. Request Errors (400xxx)#', 'gateway', 'Gateway: request errors (400xxx)'],
  ['2. Partner Errors (4002xx)#', 'gateway', 'Gateway: partner errors (4002xx)'],
  ['3. Regional & KYC Limitations (4003xx)#', 'gateway', 'Gateway: regional and KYC limitations (4003xx)'],
  ['4. Authorization Errors (4004xx)#', 'gateway', 'Gateway: authorization errors (4004xx)'],
  ['5. Data Errors (4001xx)#', 'gateway', 'Gateway: data errors (4001xx)'],
  // listed on the gateway page, but sent on WebSocket connections
  ['6. Websocket Errors to disconnect#', 'websocket', 'Gateway: WebSocket errors to disconnect'],
  ['7. Rate Limiting & Frequency Errors (429xxx)#', 'gateway', 'Gateway: rate limiting (429xxx)'],
  ['8. User Restriction Errors (411xxx)#', 'gateway', 'Gateway: user restriction (411xxx)'],
  ['9. Server Errors (5xxxxx)#', 'gateway', 'Gateway: server errors (5xxxxx)'],
];
/** Lines that are neither a heading nor a row: titles, table headers, prose. */
const IGNORED = [
  /^Errors Code$/,
  /^ERROR CODE#$/,
  /^GATEWAY ERROR CODE#$/,
  /^Code\tMeaning$/,
  /^\| Code \| (Meaning|Message) \|$/,
  /^\|---\|$/,
  /^If the returned HTTP status code is not 200/,
  /^This table is the error code common to margin/,
  /^Modified at /,
  /^$/,
];

function parsePage(file) {
  const text = readFileSync(file, 'utf8');
  const name = file.split(/[\\/]/).pop();
  const rows = [];
  let heading;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const h = HEADINGS.find(([title]) => title === line);
    if (h) {
      heading = h;
      return;
    }
    const m = /^(\d+)\t(.+)$/.exec(line) ?? /^\|?\s*(\d+)\s*\|\s*(.*?)\s*\|$/.exec(line);
    if (m) {
      if (!heading) throw new Error(`${name}:${i + 1}: a row before any known heading: ${line}`);
      rows.push({ product: heading[1], section: heading[2], code: m[1], message: m[2].trim(), source: `${name}:${i + 1}` });
      return;
    }
    if (!IGNORED.some((re) => re.test(line))) throw new Error(`${name}:${i + 1}: neither a heading, a row nor known prose: ${line}`);
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// 2. Categories and their actions.
// ---------------------------------------------------------------------------------------------------------

/** category -> [action, retryable, what it means, what the library does] (the README's feedback table). */
const CATEGORIES = {
  'rate-limit': [
    'pause-and-resend',
    true,
    'a rate-limit signal (the request was not executed)',
    "pause the signal's scope (FEEDBACK_RULES: pool, system, connection, IP or endpoint), then send it again",
  ],
  'retry-later': [
    'backoff-and-resend',
    true,
    'the server is busy, timed out or failed',
    'a bounded, jittered backoff for that host; reads and orders with a clientOid are sent again, an order without one never is',
  ],
  clock: [
    'sync-clock-and-resend',
    true,
    "KC-API-TIMESTAMP is more than 5 s from the server's clock",
    'learn the offset from GET /api/v1/timestamp, sign with it, send again once',
  ],
  auth: [
    'open-key-circuit',
    false,
    'the key, its signature, passphrase, IP whitelist or permissions are refused',
    'stop sending with that key in every process (a circuit per key, a typed error and an event); a half-open probe after a while',
  ],
  'region-kyc': ['fail', false, "the account's region or identity verification does not allow it", 'fail at once with the code; never sent again'],
  restricted: [
    'fail',
    false,
    'the account is restricted for this operation (risk control, a blacklisted URL)',
    'fail at once with the code; never sent again (other requests of the key go on)',
  ],
  business: [
    'fail',
    false,
    'a business error: balance, order or position state, parameters, product rules',
    'fail at once with the code; never sent again, never counted as a rate signal',
  ],
  request: ['fail', false, 'the request itself is malformed: URL, method, content type', 'fail at once with the code (a bug in the caller); never sent again'],
  'service-stopping': ['pause-host', false, 'the service has stopped running', 'stop sending to that host for a while; the request fails'],
  websocket: ['ws-reaction', undefined, 'a WebSocket error', "the connection manager's reaction (src/ws/wsCodes.ts)"],
};

const RL = 'rate-limit';
const RETRY = 'retry-later';
const CLOCK = 'clock';
const AUTH = 'auth';
const KYC = 'region-kyc';
const RESTR = 'restricted';
const BIZ = 'business';
const REQ = 'request';
const STOP = 'service-stopping';

/**
 * The decision for every row: CATEGORY_RULES[product][code] is a category, or a list of
 * [message regex, category, note?] tried in order when one code has several messages. A note says why a row
 * was judged the way it was where the page alone does not make it plain.
 */
const CATEGORY_RULES = {
  http: {
    400: REQ,
    401: AUTH,
    403: [[/./, RL, 'HTTP 403 without a KuCoin code is treated as a rate-limit signal (http-403), as the feedback table does']],
    404: REQ,
    405: REQ,
    415: REQ,
    500: RETRY,
    503: RETRY,
  },
  spot: {
    200001: BIZ, // the pair's state
    200002: BIZ,
    200003: [[/./, BIZ, 'a cap on open orders, not a request rate']],
    200004: BIZ,
    200009: KYC,
    260210: BIZ,
    400001: AUTH,
    400002: CLOCK,
    400003: AUTH,
    400004: AUTH,
    400005: AUTH,
    400006: AUTH,
    400007: AUTH,
    400100: BIZ,
    400200: [[/./, RESTR, 'an account-level ban on placing orders: fail, but keep the key (cancels still go)']],
    400500: KYC,
    400600: BIZ,
    400700: [[/./, RESTR, 'risk control on the account']],
    400800: BIZ,
    404000: REQ,
    411100: AUTH,
    415000: REQ,
    500000: RETRY,
    600203: [[/./, BIZ, "the symbol's state (downtime for upgrades): fail like a suspended pair"]],
    900001: BIZ,
    230005: RETRY,
  },
  margin: {
    130101: BIZ,
    130102: BIZ,
    130103: BIZ,
    130104: BIZ,
    130105: BIZ,
    130106: BIZ,
    130107: BIZ,
    130108: BIZ,
    130201: [
      [/restricted access/i, RESTR, 'an account restriction'],
      [/open margin trade|lending function/i, BIZ],
    ],
    130202: [
      [/pay off all debts/i, BIZ, 'needs the user to repay first: retrying cannot help'],
      [/try again later|currently processing/i, RETRY, 'a transient state of the loan system ("please try again later")'],
    ],
    130203: BIZ,
    130204: BIZ,
    130301: BIZ,
    130302: [[/./, RESTR, 'permissions of the account restricted by customer service']],
    130303: BIZ,
    130304: BIZ,
    130305: BIZ,
    130306: BIZ,
    130307: BIZ,
    130308: BIZ,
    130309: BIZ,
    130310: BIZ,
    130311: BIZ,
    130312: BIZ,
    130313: BIZ,
    130314: BIZ,
    130315: KYC,
    126000: BIZ,
    126001: BIZ,
    126002: [[/./, RESTR, 'risk control on the account']],
    126003: BIZ,
    126004: BIZ,
    126005: KYC,
    126006: BIZ,
    126007: BIZ,
    126009: BIZ,
    126010: BIZ,
    126011: [[/./, BIZ, 'too many orders in one batch: a parameter, not a request rate']],
    126013: BIZ,
    126015: BIZ,
    126021: KYC,
    126022: BIZ,
    126027: BIZ,
    126028: BIZ,
    126029: BIZ,
    126030: BIZ,
    126033: BIZ,
    126034: BIZ,
    126036: BIZ,
    126037: KYC,
    126038: [[/./, RETRY, 'an internal failure of a service behind the gateway']],
    126039: [[/./, RETRY, 'an internal failure of a service behind the gateway']],
    126041: [[/./, BIZ, 'a request parameter (clientTimestamp), not the signature timestamp']],
    126042: BIZ,
    126043: BIZ,
    126044: BIZ,
    126045: KYC,
    126046: KYC,
    126047: KYC,
    126048: KYC,
    135005: BIZ,
    135018: [[/./, RETRY, '"service abnormality" (135005 "business abnormality" stays business)']],
    400400: [[/./, BIZ, '"Parameter error/service exception": a parameter error first; the gateway\'s 400400 is auth, the message decides']],
    400401: AUTH,
    408000: RETRY,
    500000: RETRY,
  },
  futures: {
    1015: RL,
    40010: KYC,
    100001: BIZ,
    100002: [[/./, RETRY, '"systemConfigError": a server-side fault']],
    100003: BIZ,
    100004: BIZ,
    100005: BIZ,
    200001: BIZ,
    200002: [
      [/too many requests/i, RL],
      [/level 3/i, BIZ],
    ],
    200003: BIZ,
    200005: BIZ,
    300000: BIZ,
    300001: [[/./, BIZ, 'a cap on active orders, not a request rate']],
    300002: [[/./, RETRY, 'placing and cancelling suspended by the system for a while ("please try again later")']],
    300003: BIZ,
    300004: BIZ,
    300005: BIZ,
    300006: BIZ,
    300007: BIZ,
    300008: BIZ,
    300009: BIZ,
    300010: BIZ,
    300011: BIZ,
    300012: BIZ,
    300013: BIZ,
    300014: [[/./, RETRY, 'the position is being liquidated ("please try again later")']],
    300015: [[/./, RETRY, 'settlement in progress; restored automatically ("try again later")']],
    300016: BIZ,
    300017: BIZ,
    300018: BIZ,
    400001: AUTH,
    400002: CLOCK,
    400003: AUTH,
    400004: AUTH,
    400005: AUTH,
    400006: AUTH,
    400007: AUTH,
    400100: BIZ,
    404000: REQ,
    411100: AUTH,
    415000: REQ,
    429000: RL,
    500000: RETRY,
  },
  earn: {
    151404: BIZ,
    151001: BIZ,
    151002: BIZ,
    151003: BIZ,
    151004: BIZ,
    151005: BIZ,
    151006: BIZ,
    151007: BIZ,
    151008: BIZ,
    151009: BIZ,
    151010: BIZ,
    151011: [[/./, RETRY, '"the current activity is too popular, please try again later"']],
    151016: BIZ,
    151018: BIZ,
    151019: BIZ,
    151020: BIZ,
    151021: BIZ,
    151022: BIZ,
    151023: BIZ,
    151024: BIZ,
  },
  gateway: {
    400001: [
      [
        /./,
        REQ,
        '"Please check the URL of your request": a malformed request, not the key (the spot and futures pages\' 400001 "... is missing in your request header" is auth; the message decides)',
      ],
    ],
    400002: CLOCK,
    400003: AUTH,
    400004: AUTH,
    400005: AUTH,
    400006: AUTH,
    400007: AUTH,
    400008: AUTH,
    400009: AUTH,
    400010: AUTH,
    400011: AUTH,
    400012: AUTH,
    400200: AUTH,
    400201: AUTH,
    400202: AUTH,
    400301: KYC,
    400302: KYC,
    400303: KYC,
    400304: KYC,
    400400: AUTH,
    400401: AUTH,
    400101: BIZ,
    400102: BIZ,
    429000: RL,
    429001: RL,
    429002: RL,
    411200: [[/./, RESTR, 'the URL is blacklisted for this user: fail that request, keep the key']],
    500000: RETRY,
    501000: STOP,
    503000: RETRY,
    504000: RETRY,
    505000: [[/./, RETRY, '"Unknown error" from the gateway: treated like a server error']],
  },
  // WebSocket rows: the reaction of src/ws/wsCodes.ts (WS_CODE_RULES), matched by code and text.
  websocket: {
    400: [
      [/ping timeout/i, 'ws:ping-sooner'],
      [/topic is invalid/i, 'ws:refuse-topic'],
    ],
    401: 'ws:new-token',
    403: 'ws:refuse-topic',
    404: 'ws:refuse-topic',
    406: 'ws:refuse-topic',
    415: 'ws:protocol',
    500: 'ws:reconnect-later',
    509: [
      [/per time/i, 'ws:split-message'],
      [/per session/i, 'ws:session-full'],
      [/session count/i, 'ws:wait-session-slot'],
      [/busy/i, 'ws:reconnect-later'],
      [/permits/i, 'ws:slow-down'],
    ],
    420001: 'ws:reconnect-later',
    420002: 'ws:reconnect-later',
  },
};

/** WebSocket reactions after which the same request can succeed (a topic refused for good or a bad command cannot). */
const WS_RETRYABLE = new Set(['split-message', 'session-full', 'slow-down', 'new-token', 'wait-session-slot', 'reconnect-later', 'ping-sooner', 'retry-later']);

/** The five rate-limit signals of the feedback table, plus HTTP 403 without a code. */
const SIGNALS = { 429000: '429000', 429001: '429001', 429002: '429002', 1015: '1015', 200002: '200002', 403: 'http-403' };

/**
 * The HTTP status the gateway answers a code with. Known: 401 for key and signature errors, 429 for 429xxx and
 * Cloudflare's 1015, 400 / 404 / 415 / 500 / 503 for 400100 / 404000 / 415000 / 500000 / 503000, and HTTP 200
 * for business codes (docs/RATE-LIMITS.md sections 4 and 7). Assumed for the rest: the first three digits of
 * a 4xxxxx / 5xxxxx gateway code (411xxx: 403). WebSocket codes have none.
 */
function statusOf(product, code, category) {
  if (product === 'websocket') return null;
  if (product === 'http') return Number(code);
  if (code === '1015') return 429;
  if ((category === AUTH || category === CLOCK) && /^40[0-9]{4}$/.test(code)) return 401;
  if (/^411\d{3}$/.test(code)) return 403;
  if (/^(400|404|408|415|429|500|501|503|504|505)\d{3}$/.test(code)) return Number(code.slice(0, 3));
  return 200;
}

function classify(row, used) {
  const rule = CATEGORY_RULES[row.product]?.[row.code];
  if (rule === undefined) throw new Error(`${row.source}: no category decided for ${row.product} ${row.code} "${row.message}": add it to CATEGORY_RULES`);
  const key = `${row.product} ${row.code}`;
  if (typeof rule === 'string') {
    used.add(key);
    return { decision: rule, note: undefined };
  }
  const i = rule.findIndex(([re]) => re.test(row.message));
  if (i < 0) throw new Error(`${row.source}: no rule of ${key} fits "${row.message}"`);
  used.add(`${key} #${i}`);
  return { decision: rule[i][1], note: rule[i][2] };
}

function entries() {
  const seen = new Set();
  const used = new Set();
  const out = [];
  let duplicates = 0;
  for (const row of SEEDS.flatMap(parsePage)) {
    const id = `${row.product}\u0000${row.code}\u0000${row.message}`;
    if (seen.has(id)) {
      duplicates++; // the margin page lists two rows twice, word for word
      continue;
    }
    seen.add(id);
    const { decision, note } = classify(row, used);
    const ws = decision.startsWith('ws:') ? decision.slice(3) : undefined;
    const category = ws ? 'websocket' : decision;
    if (!CATEGORIES[category]) throw new Error(`${row.source}: unknown category ${category}`);
    const [action, retryable] = ws ? [ws, WS_RETRYABLE.has(ws)] : CATEGORIES[category];
    const signal = category === RL ? SIGNALS[row.code] : undefined;
    if (category === RL && !signal) throw new Error(`${row.source}: ${row.code} is a rate limit but no known signal`);
    out.push({
      product: row.product,
      code: row.code,
      message: row.message,
      category,
      action,
      retryable,
      status: statusOf(row.product, row.code, category),
      ...(signal ? { signal } : {}),
      section: row.section,
      ...(note ? { note } : {}),
    });
  }
  const unused = [];
  for (const [product, codes] of Object.entries(CATEGORY_RULES)) {
    for (const [code, rule] of Object.entries(codes)) {
      if (typeof rule === 'string') {
        if (!used.has(`${product} ${code}`)) unused.push(`${product} ${code}`);
      } else rule.forEach((_, i) => !used.has(`${product} ${code} #${i}`) && unused.push(`${product} ${code} #${i}`));
    }
  }
  if (unused.length > 0) throw new Error(`CATEGORY_RULES decide rows that the pages no longer have: ${unused.join(', ')}`);
  return { rows: out, duplicates };
}

// ---------------------------------------------------------------------------------------------------------
// 3. Write the typed table and the docs.
// ---------------------------------------------------------------------------------------------------------

function tsText(rows) {
  const categories = Object.entries(CATEGORIES)
    .map(
      ([name, [action, retryable, meaning, does]]) =>
        `  ${JSON.stringify(name)}: { action: ${JSON.stringify(action)}, retryable: ${retryable === undefined ? 'undefined' : retryable}, meaning: ${JSON.stringify(meaning)}, does: ${JSON.stringify(does)} },`,
    )
    .join('\n');
  const body = rows.map((r) => `  ${JSON.stringify(r)},`).join('\n');
  return `// This file is generated by scripts/gen-error-codes.mjs from data/seeds/*.txt (KuCoin's error-code pages).
// Do not edit it by hand: change the seed pages or the categories decided in the script, then run
// \`npm run gen:errors\`. test/errorCodes.test.ts checks that it is fresh and holds every row of the pages.
import type { KucoinCodeCategory, KucoinCodeCategoryInfo, KucoinCodeEntry } from './errorCodes.js';

/** What each category means and what the library does about it (the README's feedback table). */
export const CATEGORY_INFO: Readonly<Record<KucoinCodeCategory, KucoinCodeCategoryInfo>> = {
${categories}
};

/** Every row of the seed pages, in page order (two word-for-word duplicate rows dropped). */
export const KUCOIN_ERROR_CODES: readonly KucoinCodeEntry[] = [
${body}
];
`;
}

const escapeCell = (s) => String(s).replace(/\|/g, '\\|');

function mdText(rows) {
  const count = (c) => rows.filter((r) => r.category === c).length;
  const lines = [
    '<!-- This file is generated by scripts/gen-error-codes.mjs from data/seeds/*.txt. Do not edit it by hand: run `npm run gen:errors`. -->',
    '',
    '# KuCoin error codes',
    '',
    `Every code of KuCoin's error-code pages (data/seeds/, see its README for the sources): ${rows.length} rows, ${new Set(rows.map((r) => `${r.product} ${r.code}`)).size} (product, code) pairs.`,
    'The same code can mean different things on spot and futures (200001, 200002, 200003...) and one code can have',
    'several messages (200002 "Too many requests..." is a rate limit, 200002 "The query scope for Level 3..." is not):',
    '`lookupKucoinCode({ host, code, msg })` takes the host and the message into account; `{0}`, `xxx` and `%s` in a',
    'message match anything. When only the code is known and it has several meanings, the one that does least wins',
    '(never sent again, no circuit opened).',
    '',
    '## Categories',
    '',
    '| category | rows | action | retryable | meaning | what the library does |',
    '|---|---|---|---|---|---|',
    ...Object.entries(CATEGORIES).map(
      ([name, [action, retryable, meaning, does]]) =>
        `| ${name} | ${count(name)} | \`${action}\` | ${retryable === undefined ? 'per reaction' : retryable ? 'yes' : 'no'} | ${meaning} | ${does} |`,
    ),
    '',
    '`retryable`: the library may send the same request again (an order that may have executed only with a clientOid).',
    '`status`: the HTTP status the gateway answers with (the simulator uses it): known for key and signature errors',
    '(401), 429xxx and 1015 (429), 400100 / 404000 / 415000 / 500000 / 503000, and business codes (HTTP 200); otherwise',
    'assumed from the code (the first three digits of a 4xxxxx / 5xxxxx code, 403 for 411xxx).',
    '',
  ];
  for (const section of [...new Set(rows.map((r) => r.section))]) {
    const rs = rows.filter((r) => r.section === section);
    lines.push(`## ${section} (${rs[0].product})`, '', '| code | message | category | action | status | note |', '|---|---|---|---|---|---|');
    for (const r of rs)
      lines.push(
        `| ${r.code} | ${escapeCell(r.message)} | ${r.category} | \`${r.action}\`${r.signal ? ` (${r.signal})` : ''} | ${r.status ?? ''} | ${escapeCell(r.note ?? '')} |`,
      );
    lines.push('');
  }
  return lines.join('\n');
}

const { rows, duplicates } = entries();
const outputs = [
  [OUT_TS, tsText(rows)],
  [OUT_MD, mdText(rows)],
];
const stale = [];
for (const [file, text] of outputs) {
  const target = join(root, file);
  if (check) {
    if (!existsSync(target) || readFileSync(target, 'utf8') !== text) stale.push(relative(root, target));
  } else writeFileSync(target, text);
}
if (stale.length > 0) {
  process.stderr.write(`stale: ${stale.join(', ')}; run npm run gen:errors\n`);
  process.exit(1);
}
if (!check) process.stdout.write(`wrote ${rows.length} error codes (${duplicates} duplicate rows dropped) to ${OUT_TS} and ${OUT_MD}\n`);
