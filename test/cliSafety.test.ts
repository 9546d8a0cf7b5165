// issue 21, 7, 8 and 9: the CLI operates on what it names and says no secret. `runCli` (what the
// `kucoin-scheduler` binary runs) in this process, against the suite's real Redis, and against a small hostile
// Redis (a RESP server on port 0 that answers SCAN, DEL and DBSIZE as no Redis would).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { runCli } from '../src/cli/runCli.js';
import { maxScanCalls } from '../src/cli/accountKeys.js';

interface Run {
  readonly code: number;
  readonly out: string;
}

async function run(argv: string[]): Promise<Run> {
  let out = '';
  const stream = { write: (t: string) => (out += t) };
  const code = await runCli(argv, { stdout: stream, stderr: stream, signal: new AbortController().signal });
  return { code, out };
}

const redisUrl = inject('redisUrl'); // redis://127.0.0.1:6379 (no password)
const clients: Redis[] = [];
afterAll(async () => {
  for (const c of clients) await c.quit();
});
function db(n: number): Redis {
  const c = new Redis(`${redisUrl}/${n}`, { maxRetriesPerRequest: 1 });
  clients.push(c);
  return c;
}

describe('reset never runs on the wrong database (issue 21, 7)', () => {
  it('a database the server refuses (/99 on a 16-database Redis) is fatal: exit 1, nothing read or deleted, in any database', async () => {
    const prefix = `ks-cli-${randomUUID()}`;
    const zero = db(0);
    await zero.set(`${prefix}:{u1}:kept`, '1');
    const runs = await Promise.all([
      run(['reset', '--redis', `${redisUrl}/99`, '--prefix', prefix, '--uid', 'u1', '--yes']),
      run(['status', '--redis', `${redisUrl}/99`, '--prefix', prefix, '--uid', 'u1', '--json']),
      run(['resume', '--redis', `${redisUrl}/99`, '--prefix', prefix, '--uid', 'u1', '--target', 'spot']),
    ]);
    console.log(
      `reset on /99: exit ${runs[0]!.code}: ${runs[0]!.out.trim()}; the key of database 0 ${(await zero.exists(`${prefix}:{u1}:kept`)) ? 'kept' : 'DELETED'}`,
    );
    for (const r of runs) {
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('refused SELECT 99');
    }
    expect(await zero.get(`${prefix}:{u1}:kept`)).toBe('1');
    await zero.del(`${prefix}:{u1}:kept`);
  });

  it('reset /15 deletes the group in database 15 only', async () => {
    const prefix = `ks-cli-${randomUUID()}`;
    const [zero, fifteen] = [db(0), db(15)];
    await zero.set(`${prefix}:{u1}:a`, '0');
    await fifteen.set(`${prefix}:{u1}:a`, '15');
    await fifteen.set(`${prefix}:{u1}:b`, '15');
    const r = await run(['reset', '--redis', `${redisUrl}/15`, '--prefix', prefix, '--uid', 'u1', '--yes']);
    expect(r).toEqual({ code: 0, out: `deleted 2 key(s) of quota group u1 (prefix ${prefix})\n` });
    expect(await fifteen.exists(`${prefix}:{u1}:a`, `${prefix}:{u1}:b`)).toBe(0);
    expect(await zero.get(`${prefix}:{u1}:a`)).toBe('0');
    await zero.del(`${prefix}:{u1}:a`);
  });

  it('a URL that does not name one database plainly is a bad command line (exit 2): a query, a fragment, a path that is not a number', async () => {
    const bad = ['/abc', '/1/2', '/-1', '/01', '/1.5', '/ 1', '?db=3', '/0?db=3', '?host=10.0.0.1', '?password=x', '#1', '/%31'];
    const runs = await Promise.all(bad.map((tail) => run(['reset', '--redis', `${redisUrl}${tail}`, '--uid', 'u1', '--yes'])));
    const wrong = runs.map((r, i) => `${bad[i]}: ${r.code} ${r.out.split('\n')[0]}`).filter((_, i) => runs[i]!.code !== 2);
    expect(wrong).toEqual([]);
  });
});

describe('the CLI never prints a password (issue 21, 8)', () => {
  const PW = 'Hunter2Secret';
  const PW_ENCODED = 'Hunter2%40Secret'; // "Hunter2@Secret" once decoded
  const local = redisUrl.replace('redis://', '');
  const lines: string[][] = [
    ['status', '--redis', `http://user:${PW}@${local}`, '--uid', 'u'],
    ['status', '--redis', `https://:${PW}@${local}`, '--uid', 'u'],
    ['status', '--redis', `redis//:${PW}@${local}`, '--uid', 'u'],
    ['status', '--redis', `redis:/:${PW}@${local}`, '--uid', 'u'],
    ['status', '--redis', `redis:${PW}@${local}`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@`, '--uid', 'u'],
    ['status', '--redis', `redis://:${PW}@`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@:6379`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@${local}:notaport`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@[::1`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@256.1.1.1`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@${local}/abc`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@${local}?db=3`, '--uid', 'u'],
    ['status', '--redis', `redis://${local}?password=${PW}`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@${local}#frag`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW_ENCODED}@${local}/x`, '--uid', 'u'],
    ['status', '--redis', `redis://user:${PW}@127.0.0.1:1`, '--uid', 'u'],
    ['status', '--redis', ` redis://user:${PW}@${local}`, '--uid', 'u'],
    ['status', `redis://:${PW}@${local}`, '--uid', 'u'],
    ['status', '--uid', 'u', '--', `redis://:${PW}@${local}`],
    ['status', `--redis:redis://:${PW}@${local}`, '--uid', 'u'],
    ['status', `--rediss=redis://:${PW}@${local}`, '--uid', 'u'],
    ['status', '--rediss', `redis://:${PW}@${local}`, '--uid', 'u'],
    ['status', `-r:${PW}@h`],
    [`redis://:${PW}@${local}`, 'status'],
    ['status', '--vip', '--redis', `redis://:${PW}@${local}`, '--uid', 'u'],
    ['status', '--redis', redisUrl, '--uid', 'u', '--vip', `redis://:${PW}@h`],
    ['status', '--redis', redisUrl, '--uid', 'u', '--interval', `:${PW}@h`],
    ['status', '--redis', redisUrl, '--uid', `redis://:${PW}@h`],
    ['status', '--redis', redisUrl, '--uid', 'u', '--prefix', `p:${PW}@h`],
    ['status', '--redis', redisUrl, '--uid', 'u', '--group', `//:${PW}@h`],
    ['status', '--redis', redisUrl, '--uid', 'u', '--ip', `user:${PW}@10.0.0.1`],
    ['resume', '--redis', `ftp://:${PW}@${local}`, '--uid', 'u', '--target', 'spot'],
    ['resume', '--redis', `redis://:${PW}@${local}/99`, '--uid', 'u', '--target', 'spot'],
    ['resume', '--redis', redisUrl, '--uid', 'u', '--target', `redis://:${PW}@h`],
    ['reset', '--redis', `redis://:${PW}@${local}`, '--uid', 'u'],
    ['reset', '--redis', `mongodb://u:${PW}@${local}`, '--uid', 'u', '--yes'],
    ['reset', '--redis', `redis://default:${PW}@${local}/99`, '--uid', 'u', '--yes'],
    ['demo', '--redis', `http://u:${PW}@${local}`],
    ['demo', '--redis', `redis//u:${PW}@${local}`, '--seconds', '1'],
  ];

  it(`prints neither the password nor its decoded form, whatever the command line (${lines.length} malformed lines)`, async () => {
    const leaks: string[] = [];
    for (const argv of lines) {
      const r = await run(argv);
      if (r.out.includes(PW) || r.out.includes('Hunter2@Secret') || r.out.includes('Hunter2'))
        leaks.push(`${r.code} ${JSON.stringify(argv)} -> ${r.out.trim()}`);
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).not.toMatch(/^\s+at /m); // one message, never a stack trace
    }
    console.log(`${leaks.length} of ${lines.length} malformed command lines printed the password${leaks.length ? `:\n  ${leaks.join('\n  ')}` : ''}`);
    expect(leaks).toEqual([]);
  });
});

/** The commands a hostile Redis receives, and what it answers to SCAN, DEL and DBSIZE. */
interface Hostile {
  readonly scans: number;
  readonly deleted: readonly string[];
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A RESP2 server on port 0 that answers the connection handshake like Redis (HELLO unknown, INFO, PING, SELECT,
 * CLIENT, QUIT) and SCAN / DEL / DBSIZE as `answers` says: the point is a server that does not behave like Redis.
 */
async function hostileRedis(answers: {
  scan: (n: number, pattern: string) => string;
  auth?: (args: string[]) => string;
  dbsize?: string;
  del?: (keys: string[]) => string;
  quit?: boolean;
}): Promise<Hostile> {
  let scans = 0;
  const deleted: string[] = [];
  const sockets = new Set<Socket>();
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        const parsed = parseCommand(buffer);
        if (!parsed) break;
        buffer = buffer.slice(parsed.used);
        const [name, ...args] = parsed.args;
        const cmd = name!.toUpperCase();
        if (cmd === 'HELLO') socket.write("-ERR unknown command 'HELLO'\r\n");
        else if (cmd === 'INFO') socket.write(bulk('# Server\r\nloading:0\r\n'));
        else if (cmd === 'AUTH' && answers.auth) socket.write(answers.auth(args));
        else if (cmd === 'PING') socket.write('+PONG\r\n');
        else if (cmd === 'SELECT' || cmd === 'CLIENT') socket.write('+OK\r\n');
        else if (cmd === 'DBSIZE') socket.write(answers.dbsize ?? ':10\r\n');
        else if (cmd === 'SCAN') socket.write(answers.scan(++scans, args[2]!));
        else if (cmd === 'DEL') {
          deleted.push(...args);
          socket.write(answers.del ? answers.del(args) : `:${args.length}\r\n`);
        } else if (cmd === 'QUIT') {
          if (answers.quit !== false) socket.end('+OK\r\n');
        } else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    get scans() {
      return scans;
    },
    deleted,
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One RESP array of bulk strings from the front of `text`, or undefined when it is not all there yet. */
function parseCommand(text: string): { args: string[]; used: number } | undefined {
  const head = /^\*(\d+)\r\n/.exec(text);
  if (!head) return undefined;
  let at = head[0].length;
  const args: string[] = [];
  for (let i = 0; i < Number(head[1]); i++) {
    const len = /^\$(\d+)\r\n/.exec(text.slice(at));
    if (!len) return undefined;
    at += len[0].length;
    if (text.length < at + Number(len[1]) + 2) return undefined;
    args.push(text.slice(at, at + Number(len[1])));
    at += Number(len[1]) + 2;
  }
  return { args, used: at };
}

const resp = (cursor: string, keys: string[]) =>
  `*2\r\n$${cursor.length}\r\n${cursor}\r\n*${keys.length}\r\n${keys.map((k) => `$${Buffer.byteLength(k)}\r\n${k}\r\n`).join('')}`;

describe('a server that echoes the password', () => {
  it('is not quoted: the password is taken out of its messages, as written and decoded', async () => {
    const h = await hostileRedis({
      scan: () => resp('0', []),
      auth: (args) => `-WRONGPASS the password ${args.at(-1)} is not ${encodeURIComponent(args.at(-1)!)}\r\n`,
    });
    const r = await run(['status', '--redis', h.url.replace('redis://', 'redis://user:Echo%40Pw1@'), '--uid', 'u']);
    await h.close();
    expect(r.code).toBe(1);
    expect(r.out).toContain('WRONGPASS the password *** is not ***');
    expect(r.out).not.toContain('Echo');
  });
});

describe('reset against a hostile Redis (issue 21, 9)', () => {
  const servers: Hostile[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  const GROUP = 'kucoin-scheduler:{u1}:';
  const reset = (h: Hostile) => run(['reset', '--redis', h.url, '--uid', 'u1', '--yes']);
  /** reset, but given up on after `ms` (the old loop never ended): how many SCANs it made by then. */
  const resetWithin = async (h: Hostile, ms: number) => {
    const t0 = Date.now();
    const r = await Promise.race([reset(h), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
    return { r, ms: Date.now() - t0, scans: h.scans };
  };

  it('a cursor that never comes back to 0 stops after a bounded number of SCANs (DBSIZE 10: 110), exit 1', async () => {
    const h = await hostileRedis({ scan: (n) => resp(String(n), [`${GROUP}k${n}`]) });
    servers.push(h);
    const { r, ms, scans } = await resetWithin(h, 10_000);
    console.log(
      `cursor never 0: ${r ? `exit ${r.code} after ${scans} SCANs in ${ms} ms: ${r.out.trim()}` : `still running after ${ms} ms and ${scans} SCANs`}`,
    );
    expect(r?.code).toBe(1);
    expect(scans).toBe(maxScanCalls(10));
    expect(maxScanCalls(10)).toBe(110);
    expect(r!.out).toContain('the server does not behave like Redis');
    expect(h.deleted.every((k) => k.startsWith(GROUP))).toBe(true);
  });

  it('keys outside the pattern are never deleted: reset stops at the first reply holding one, exit 1', async () => {
    const h = await hostileRedis({
      scan: (n) => (n === 1 ? resp('7', [`${GROUP}a`, `${GROUP}b`]) : resp('0', [`${GROUP}c`, 'kucoin-scheduler:{u2}:a', 'orders:42', `x${GROUP}d`])),
    });
    servers.push(h);
    const { r } = await resetWithin(h, 10_000);
    console.log(`keys outside the pattern: exit ${r?.code}, deleted [${h.deleted.join(', ')}]: ${r?.out.trim()}`);
    expect(r?.code).toBe(1);
    expect(h.deleted).toEqual([`${GROUP}a`, `${GROUP}b`]);
    expect(r!.out).toContain('3 key(s) outside the pattern');
    expect(r!.out).toContain('2 key(s) of quota group u1 were deleted, none outside it');
  });

  it('garbage replies to DBSIZE, SCAN or DEL stop it (exit 1, one message); a server that never answers QUIT does not hold it', async () => {
    const cases: [string, Parameters<typeof hostileRedis>[0]][] = [
      ['DBSIZE -5', { dbsize: ':-5\r\n', scan: () => resp('0', []) }],
      ['DBSIZE a string', { dbsize: '$2\r\n10\r\n', scan: () => resp('0', []) }],
      ['SCAN an integer', { scan: () => ':1\r\n' }],
      ['SCAN a cursor that is no number', { scan: () => resp('-1', [`${GROUP}a`]) }],
      ['SCAN a nested key', { scan: () => `*2\r\n$1\r\n0\r\n*1\r\n*1\r\n$1\r\na\r\n` }],
      ['DEL 1e9', { scan: () => resp('0', [`${GROUP}a`]), del: () => ':1000000000\r\n' }],
      ['no answer to QUIT', { scan: () => resp('0', [`${GROUP}a`]), quit: false }],
    ];
    const seen: string[] = [];
    for (const [name, answers] of cases) {
      const h = await hostileRedis(answers);
      servers.push(h);
      const { r, ms } = await resetWithin(h, 10_000);
      seen.push(`${name}: exit ${r?.code} in ${ms} ms`);
      expect(r, name).toBeDefined();
      expect(r!.out).not.toMatch(/^\s+at /m);
      if (name === 'no answer to QUIT') expect(r!.code).toBe(0);
      else expect(r!.code, `${name}: ${r!.out}`).toBe(1);
      expect(ms).toBeLessThan(3_000);
    }
    console.log(seen.join('; '));
  });
});

describe('reset on a normal Redis stays inside its prefix', () => {
  it('deletes the keys of its group, glob characters in the uid escaped, and none of the near misses', async () => {
    const prefix = `ks-cli-${randomUUID()}`;
    const zero = db(0);
    const group = `${prefix}:{u*1}:`;
    const mine = [`${group}a`, `${group}b`, `${group}heartbeats`];
    const others = [`${prefix}:{uX1}:a`, `${prefix}:{u*1}`, `${prefix}:{u*1}x:a`, `${prefix}x:{u*1}:a`, `other:${group}a`, `${prefix}:{u*2}:a`];
    for (const k of [...mine, ...others]) await zero.set(k, '1');
    const r = await run(['reset', '--redis', redisUrl, '--prefix', prefix, '--uid', 'u*1', '--yes']);
    expect(r).toEqual({ code: 0, out: `deleted 3 key(s) of quota group u*1 (prefix ${prefix})\n` });
    expect(await zero.exists(...mine)).toBe(0);
    expect(await zero.exists(...others)).toBe(others.length);
    await zero.del(...others);
  });
});

describe('what a newcomer types (issue 22)', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) expect(await run([flag])).toEqual({ code: 0, out: `kucoin-scheduler ${version}\n` });
  });

  it('on a prefix that holds nothing: status says so, resume and reset refuse (exit 1) and create no key, unless --force', async () => {
    const prefix = `ks-cli-${randomUUID()}`;
    const zero = db(0);
    const empty = ['--redis', redisUrl, '--prefix', prefix, '--uid', 'nobody'];
    const status = await run(['status', ...empty]);
    expect(status.code).toBe(0);
    expect(status.out.replace(/\n/g, ' ')).toContain(`Redis holds nothing for uid nobody under prefix ${prefix}: no process of`);
    expect(JSON.parse((await run(['status', ...empty, '--json'])).out)).toMatchObject({ empty: true });
    const resume = await run(['resume', ...empty]);
    expect(resume.code).toBe(1);
    expect(resume.out).toMatch(
      /^kucoin-scheduler: Redis holds nothing for uid nobody .*--prefix \/ --uid .*Nothing was resumed and no key was created \(--force resumes anyway\)\n$/,
    );
    const reset = await run(['reset', ...empty, '--yes']);
    expect(reset.code).toBe(1);
    expect(reset.out).toContain('Nothing was deleted (--force accepts this)');
    expect(await zero.keys(`${prefix}*`)).toEqual([]);
    expect(await run(['reset', ...empty, '--yes', '--force'])).toEqual({ code: 0, out: `deleted 0 key(s) of quota group nobody (prefix ${prefix})\n` });
    expect((await run(['resume', ...empty, '--force'])).code).toBe(0);
    const created = await zero.keys(`${prefix}*`);
    expect(created.length).toBeGreaterThan(0); // --force resumes: the buckets' keys exist now
    await zero.del(...created);
    expect(JSON.parse((await run(['status', ...empty, '--json'])).out)).toMatchObject({ empty: true });
  });
});
