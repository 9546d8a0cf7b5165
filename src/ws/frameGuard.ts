import { buildConnector } from 'undici';

/** The HTTP upgrade reply is read until its blank line; a reply longer than this is not watched further. */
const MAX_HTTP_HEAD = 65_536;
const DATA_OPCODES = new Set([0x0, 0x1, 0x2]);

/**
 * Reads what a push server sends on one socket, chunk by chunk: the HTTP upgrade reply, then each WebSocket frame's header
 * (RFC 6455 section 5.2, server frames), and calls `onTooLarge(bytes)` once, at the header of the frame that
 * takes a data message (its frames summed) past `limit` bytes: before the payload arrives, so nothing of it
 * is buffered here (undici, given the same limit as `maxPayloadSize`, stops there too). It reads only; undici parses the same bytes. A compressed frame (RSV1) is counted at its
 * compressed size: undici's own `maxPayloadSize` bounds what it inflates.
 */
export function frameWatcher(limit: number, onTooLarge: (bytes: number) => void): (chunk: Buffer) => void {
  let http: Buffer | undefined = Buffer.alloc(0);
  let header = Buffer.alloc(0);
  let skip = 0; // payload bytes of the current frame still to pass
  let message = 0; // data bytes of the current message so far
  let done = false;
  const stop = () => (done = true);
  return (chunk: Buffer) => {
    if (done) return;
    let at = 0;
    if (http) {
      const seen = Buffer.concat([http, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) {
        http = seen.length > MAX_HTTP_HEAD ? undefined : seen;
        if (!http) stop();
        return;
      }
      http = undefined;
      chunk = seen.subarray(end + 4);
    }
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        continue;
      }
      // a frame header is at most 14 bytes: take what is missing of it from this chunk
      const had = header.length;
      header = Buffer.concat([header, chunk.subarray(at, at + 14 - had)]);
      const parsed = readHeader(header);
      if (!parsed) {
        at = chunk.length; // the rest of the header comes with the next chunk
        continue;
      }
      at += parsed.headerBytes - had;
      header = Buffer.alloc(0);
      if (DATA_OPCODES.has(parsed.opcode)) {
        message += parsed.payloadBytes;
        if (message > limit) {
          stop();
          onTooLarge(message);
          return;
        }
        if (parsed.fin) message = 0;
      }
      skip = parsed.payloadBytes;
    }
  };
}

interface FrameHeader {
  readonly fin: boolean;
  readonly opcode: number;
  readonly headerBytes: number;
  readonly payloadBytes: number;
}

/** One frame header from the start of `b`, or undefined when `b` does not hold all of it yet. */
export function readHeader(b: Buffer): FrameHeader | undefined {
  if (b.length < 2) return undefined;
  const fin = (b[0]! & 0x80) !== 0;
  const opcode = b[0]! & 0x0f;
  const masked = (b[1]! & 0x80) !== 0;
  const len7 = b[1]! & 0x7f;
  const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerBytes = 2 + ext + (masked ? 4 : 0);
  if (b.length < headerBytes) return undefined;
  const payloadBytes = len7 === 126 ? b.readUInt16BE(2) : len7 === 127 ? Number(b.readBigUInt64BE(2)) : len7;
  return { fin, opcode, headerBytes, payloadBytes };
}

/**
 * An undici connector that dials as undici does and watches the frames of every socket it opens. It sees each
 * chunk as the socket emits it to undici: a 'data' listener of its own would change how undici reads.
 */
export function guardedConnector(limit: number, onTooLarge: (bytes: number) => void): buildConnector.connector {
  const connect = buildConnector({});
  return (options, callback) =>
    connect(options, (error, socket) => {
      if (!error && socket) {
        const watch = frameWatcher(limit, onTooLarge);
        const emit = socket.emit.bind(socket);
        // after undici has the chunk: the messages before the refused one in it are delivered
        socket.emit = ((event: string | symbol, ...args: unknown[]) => {
          const handled = emit(event, ...args);
          if (event === 'data' && Buffer.isBuffer(args[0])) watch(args[0]);
          return handled;
        }) as typeof socket.emit;
      }
      callback(error as never, socket as never);
    });
}
