import type { IncomingMessage } from 'node:http';

/** The body is larger than the bound: the request is refused (413) and its connection closed. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The request body is larger than ${limit} bytes`);
  }
}

/**
 * Reads a request's body whole, at most `maxBytes` (a declared Content-Length over it is refused before a byte is
 * read). Null for a request without a body. Rejects when the bot disconnects first: nothing was scheduled then.
 */
export async function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw new BodyTooLargeError(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return declared === undefined ? null : Buffer.alloc(0);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
