import { Elysia } from 'elysia';
import { MalformedJson, PayloadTooLarge, UnsupportedMediaType, ValidationFailed } from '../errors/domain.ts';

function isJson(contentType: string) {
  const mime = contentType.toLowerCase().trim();
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}

// Our bodies are 4 levels deep. Deeper JSON is refused before validation: Elysia pretty-prints the
// rejected value into its error, which costs quadratic time in the depth (20k levels took seconds).
export const MAX_JSON_DEPTH = 32;

function deeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Reads at most `limit` bytes, so a huge or endless (chunked) body never sits in memory whole. */
export async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    if (Number(declared) > limit) throw new PayloadTooLarge(limit);
    // A declared length is the whole body (HTTP framing ends it there), so it is read in one piece.
    // Iterating `request.body` instead (a reader and a promise per chunk) left its streams alive past
    // a full GC in the API, over 3,000 after 20 s of load, and cost some 15 MB of its peak RSS
    // (issue #13). The size is checked again for a Request built in-process, which may say anything.
    const bytes = await request.bytes();
    if (bytes.byteLength > limit) throw new PayloadTooLarge(limit);
    return bytes;
  }
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw new PayloadTooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Strict JSON body parser for the routes that take a JSON body: 415 unless the body is declared
 * JSON (a missing Content-Type included), 413 past `limitBytes`, 400 when it does not parse.
 * Elysia wraps what a parser throws in a ParseError; src/api/errors.ts unwraps it.
 */
export function jsonBody(limitBytes: number) {
  // Scoped: it applies to the routes of the plugin that uses it (orders), not to every route with a POST.
  // One decoder for every request: without `stream`, decode() keeps no state between calls.
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  return new Elysia({ name: 'json-body' }).onParse({ as: 'scoped' }, async ({ request }, contentType) => {
    if (!isJson(contentType)) throw new UnsupportedMediaType(request.headers.get('content-type'));
    const bytes = await readLimited(request, limitBytes);
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch (cause) {
      throw new MalformedJson(cause);
    }
    if (text.trim() === '') throw new MalformedJson(new Error('empty body'));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new MalformedJson(cause);
    }
    if (deeperThan(parsed, MAX_JSON_DEPTH)) {
      throw new ValidationFailed(`The body is nested deeper than ${MAX_JSON_DEPTH} levels`, [
        { field: '/', message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
      ]);
    }
    return parsed;
  });
}
