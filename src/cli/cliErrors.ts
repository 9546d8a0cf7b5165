/** A bad command line (unknown flag, missing or malformed value): the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose `--help` to point at, when known. */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A failure the user can act on (Redis unreachable, ioredis missing): the CLI prints the message and exits 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}
