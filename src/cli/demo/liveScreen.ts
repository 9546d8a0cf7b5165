import type { OutputStream } from '../cliIo.js';

/**
 * Redraws a block of lines in place on a terminal: the cursor goes back up over the previous frame and
 * clears below it. Lines are cut to the terminal's width (read at each draw, so a resize is followed), so
 * each line takes exactly one row and no stale row is left behind. Off a terminal, frames are printed one
 * after another, at most every `plainEveryMs`.
 */
export class LiveScreen {
  #rows = 0;
  #lastPlain = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly out: OutputStream,
    private readonly plainEveryMs = 5000,
  ) {}

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  /** The width a line may take without wrapping: one less than the terminal's columns. */
  get width(): number {
    return Math.max(20, (this.out.columns ?? 80) - 1);
  }

  draw(lines: readonly string[], force = false): void {
    if (this.tty) {
      const width = this.width;
      const rows = lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
      this.out.write(`${this.#rows > 0 ? `\x1b[${this.#rows}A\r\x1b[J` : ''}${rows.join('\n')}\n`);
      this.#rows = rows.length;
    } else if (force || Date.now() - this.#lastPlain >= this.plainEveryMs) {
      this.#lastPlain = Date.now();
      this.out.write(`${lines.join('\n')}\n\n`);
    }
  }

  /** What follows is printed below the last frame (it will not be redrawn over). */
  release(): void {
    this.#rows = 0;
  }
}
