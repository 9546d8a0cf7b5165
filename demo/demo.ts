// npm run demo [-- --help]: the same demo as `kucoin-scheduler demo` (src/cli/demo/), run from the sources.
import { runCli } from '../src/cli/runCli.js';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
process.exitCode = await runCli(['demo', ...process.argv.slice(2)], { stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
