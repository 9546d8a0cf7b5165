// Copies the Lua scripts next to the compiled JavaScript that reads them.
import { cpSync, readdirSync } from 'node:fs';
const from = 'src/buckets/redis';
for (const f of readdirSync(from).filter((f) => f.endsWith('.lua'))) cpSync(`${from}/${f}`, `dist/buckets/redis/${f}`);
