import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';

/** The parts of a `ws` WebSocket the relay uses (ws ships no types; it is an optional peer dependency). */
export interface RelaySocket {
  readonly readyState: number;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  once(event: 'open', listener: () => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  once(event: 'unexpected-response', listener: (req: unknown, res: IncomingMessage) => void): void;
  send(data: Buffer | string, options?: { binary?: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

export interface WsModule {
  WebSocket: (new (url: string, options: { maxPayload: number; handshakeTimeout: number; perMessageDeflate: boolean }) => RelaySocket) & {
    readonly OPEN: number;
  };
  WebSocketServer: new (options: { noServer: true; maxPayload: number; perMessageDeflate: boolean }) => {
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, callback: (socket: RelaySocket) => void): void;
    close(): void;
  };
}

let loaded: WsModule | null | undefined;

/** The `ws` package, or undefined when it is not installed (the relay is then off: token replies pass unchanged). */
export function loadWs(): WsModule | undefined {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('ws') as WsModule;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
