#!/usr/bin/env node
// The `kucoin-scheduler` command (package.json "bin"). See runCli.ts for the commands.
import { runCli } from './runCli.js';

const stop = new AbortController();
const onSignal = (signal: NodeJS.Signals) => stop.abort(signal); // the reason names the signal (the proxy logs it)
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
