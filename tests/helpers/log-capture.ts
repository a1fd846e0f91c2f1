import { Writable } from 'node:stream';

/** A pino destination that keeps every JSON line, for tests that assert on logs. */
export function captureLines() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream: stream as unknown as { write(msg: string): void } };
}
