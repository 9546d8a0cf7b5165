import { it } from 'vitest';
import { describeCase, drawCase, CLOSED_MIX } from '../bench/familyCases.js';
import { quantileOf, runVirtualFleet } from './helpers/virtualFleet.js';

it('dev: family in virtual time', async () => {
  const seeds = (process.env.VSEEDS ?? 'mix').split(',');
  for (const s of seeds) {
    const c = s === 'mix' ? CLOSED_MIX : drawCase(Number(s));
    const t = Date.now();
    console.log(`start ${describeCase(c)}`);
    const r = await runVirtualFleet({ ...c, seed: c.seed ?? 1 });
    const q = (p: 'critical' | 'high' | 'normal' | 'low') => `${p[0]} ${quantileOf(r.waits[p], 0.99).toFixed(0)}`;
    console.log(
      `${describeCase(c)}\n   perWindow ${(100 * r.perWindow).toFixed(1)} worst ${(100 * r.worstWindow).toFixed(1)} span ${(100 * r.span).toFixed(1)} public ${(100 * r.publicPerWindow).toFixed(1)} 429 ${r.rejected} | p99 ${q('critical')} ${q('high')} ${q('normal')} ${q('low')} | byProcess ${r.byProcess.join(' ')} (${Date.now() - t} ms)`,
    );
  }
}, 3_600_000);
