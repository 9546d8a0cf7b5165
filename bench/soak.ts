// npm run soak -- [--minutes N] [--processes N]: the long form of test/soak.test.ts. Needs Redis (REDIS_URL).
import { parseArgs } from 'node:util';
import { heapTrend, soak } from '../test/soakRun.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, processes: { type: 'string', default: '4' } } });
const minutes = Number(values.minutes);
const processes = Number(values.processes);
if (!(minutes > 0) || !Number.isInteger(processes) || processes < 1) {
  process.stderr.write('usage: npm run soak -- [--minutes N] [--processes N]\n');
  process.exit(2);
}
process.stderr.write(`soak: ${processes} processes for ${minutes} min...\n`);
const r = await soak(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', processes, minutes * 60_000);
const over = r.windows.filter((w) => w.offered > r.limit).length;
const used = r.windows.reduce((x, w) => x + w.weight, 0);
process.stdout.write(
  [
    `windows ${r.windows.length}, over the limit ${over}, 429000 ${r.rejected429000}, idle seconds ${r.idleSeconds}`,
    `weight executed ${used} (${((100 * used) / (r.limit * r.windows.length)).toFixed(1)} % of the windows' quota)`,
    ...r.reports.map((x, i) => `process ${i + 1}: sent ${x.sent}, heap MB ${heapTrend(x).first.toFixed(1)} -> ${heapTrend(x).last.toFixed(1)}, queued at end ${x.queuedAtEnd}, degraded ${x.degraded}`),
  ].join('\n') + '\n',
);
process.exit(over === 0 && r.rejected429000 === 0 && r.idleSeconds === 0 ? 0 : 1);
