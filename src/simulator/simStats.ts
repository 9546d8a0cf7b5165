import type { ServerWindow } from './fixedWindow.js';

/** What reached the simulator: one record per request (and per hidden-consumer charge). */
export interface Arrival {
  /** Arrival time (ms, the simulator's clock). */
  readonly at: number;
  readonly uid: string | undefined;
  readonly ip: string;
  readonly host: string;
  readonly method: string;
  /** Path template, or the raw path for an unknown endpoint. */
  readonly endpoint: string;
  readonly pool: string | undefined;
  readonly weight: number;
  /** 'ok', a KuCoin error code ('429000', '200002', '126044' ...), '1015', or 'hidden'. */
  readonly outcome: string;
  /** Which OS process sent it (the `x-sim-client` header), when the client said. */
  readonly client: string | undefined;
  /** The connection it came on (numbered by the simulator); 0 for hidden consumers. */
  readonly conn: number;
  /** The request target exactly as received (path and query, raw bytes as latin1); absent for hidden consumers. */
  readonly target?: string;
  /** The request's raw header lines (name, value, name, value...), as received; only with `recordHeaders`. */
  readonly rawHeaders?: readonly string[];
}

/** A block the simulator put on a scope (an IP for 1015, a (UID, endpoint) for 200002). */
export interface Block {
  readonly scope: 'ip' | 'endpoint';
  readonly key: string;
  readonly from: number;
  readonly until: number;
}

export interface SimulatorStats {
  readonly requests: number;
  /** Count of each outcome: 'ok', '429000', '429001', '429002', '1015', '200002', '126044', '400005' ... */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Server windows per `subject:pool` (subject = `uid:<uid>` or `ip:<ip>`). */
  readonly windows: Readonly<Record<string, readonly ServerWindow[]>>;
  readonly blocks: readonly Block[];
  /** Storms of 429001: [from, until]. */
  readonly storms: readonly (readonly [number, number])[];
  readonly arrivals: readonly Arrival[];
}
