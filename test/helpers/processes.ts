import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Worker<R> {
  readonly child: ChildProcess;
  /** Resolves when the worker says it is ready. */
  readonly ready: Promise<void>;
  /** Resolves with the worker's report when it says it is done. */
  readonly done: Promise<R>;
}

/** Forks a TypeScript worker (run through tsx) with its config in `KS_WORKER`. */
export function forkWorker<R>(file: string, config: unknown, execArgv: string[] = []): Worker<R> {
  const child = fork(fileURLToPath(new URL(`../fixtures/${file}`, import.meta.url)), [], {
    execArgv: ['--import', 'tsx', ...execArgv],
    env: { ...process.env, KS_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`worker ${file} exited early (code ${code}, signal ${signal})`))),
  );
  const message = (type: string) =>
    Promise.race([
      new Promise<{ report: R }>((resolve) => {
        const on = (m: { type: string; report: R }) => {
          if (m.type === type) {
            child.off('message', on);
            resolve(m);
          }
        };
        child.on('message', on);
      }),
      exited,
    ]);
  const ready = message('ready').then(() => undefined);
  const done = message('done').then((m) => m.report);
  ready.catch(() => {});
  done.catch(() => {});
  return { child, ready, done };
}
