// npm run soak [-- --help]: the long form of test/soak.test.ts. Needs Redis. Writes nothing.
import { benchArgs, benchNumber, benchRedisUrl, clock } from './benchArgs.js';
import { heapTrend, soak } from '../test/soakRun.js';

const USAGE = `Usage: npm run soak -- [options]

Runs several OS processes on one account through Redis against a server that counts weight in KuCoin's
fixed windows, for a while, then checks: no window over the limit, no 429000, no idle second while demand
never stopped, heap flat, queues drained. Prints progress while it runs and a report at the end; writes
nothing. Exit 0 when every check holds, 1 otherwise.

  --minutes N     how long  (default 5)
  --processes N   how many bot processes  (default 4)
  --redis URL     the Redis to use  (default REDIS_URL, else redis://127.0.0.1:6379)
  -h, --help      this text
`;

const args = benchArgs('soak', USAGE, { minutes: { type: 'string', default: '5' }, processes: { type: 'string', default: '4' }, redis: { type: 'string' } });
const minutes = benchNumber('soak', 'minutes', args.minutes, 0.05, 24 * 60);
const processes = benchNumber('soak', 'processes', args.processes, 1, 64, true);
const redisUrl = benchRedisUrl('soak', args.redis);
const durationMs = minutes * 60_000;

// progress: a line that redraws on a terminal, one line every 30 s in a log
const started = Date.now();
const tty = process.stderr.isTTY === true;
let lastLine = 0;
const progress = () => {
  const elapsed = Date.now() - started;
  const line = `soak: ${clock(Math.min(elapsed, durationMs))} of ${clock(durationMs)} (${Math.min(100, Math.round((100 * elapsed) / durationMs))} %), ${processes} processes${elapsed > durationMs ? ', collecting reports' : ''}`;
  if (tty) process.stderr.write(`\r\x1b[2K${line}`);
  else if (elapsed - lastLine >= 30_000 || lastLine === 0) {
    lastLine = Math.max(1, elapsed);
    process.stderr.write(`${line}\n`);
  }
};
process.stderr.write(`soak: ${processes} processes for ${clock(durationMs)} against ${new URL(redisUrl).host}\n`);
const ticker = setInterval(progress, tty ? 1000 : 5000);
const r = await soak(redisUrl, processes, durationMs).finally(() => {
  clearInterval(ticker);
  if (tty) process.stderr.write('\n');
});
const over = r.windows.filter((w) => w.offered > r.limit).length;
const used = r.windows.reduce((x, w) => x + w.weight, 0);
process.stdout.write(
  [
    `windows ${r.windows.length}, over the limit ${over}, 429000 ${r.rejected429000}, idle seconds ${r.idleSeconds}`,
    `weight executed ${used} (${((100 * used) / (r.limit * r.windows.length)).toFixed(1)} % of the windows' quota)`,
    ...r.reports.map(
      (x, i) =>
        `process ${i + 1}: sent ${x.sent}, heap MB ${heapTrend(x).first.toFixed(1)} -> ${heapTrend(x).last.toFixed(1)}, queued at end ${x.queuedAtEnd}, degraded ${x.degraded}`,
    ),
  ].join('\n') + '\n',
);
process.exit(over === 0 && r.rejected429000 === 0 && r.idleSeconds === 0 ? 0 : 1);
