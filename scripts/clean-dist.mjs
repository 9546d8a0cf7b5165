// Removes dist/ before a build, so a module deleted from src/ is never shipped from an older build.
import { rmSync } from 'node:fs';
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
