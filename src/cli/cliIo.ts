/** Where a command writes, and what ends it early: process.stdout/stderr and SIGINT in the real CLI. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /** Aborted on Ctrl-C: long-running commands (`status --watch`, `demo`) end cleanly. */
  readonly signal: AbortSignal;
}

export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}
