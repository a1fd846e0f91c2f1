/** The ceiling: a minimal XREADGROUP COUNT 200 + one XACK per batch loop, no runner around it. */
import Redis from 'ioredis';
import { contenderArgs, fillStream, report } from './common.ts';

const { messages, prefix, redisUrl } = contenderArgs();
const redis = new Redis(redisUrl);
const stream = `${prefix}bare`;
await redis.del(stream);
await redis.xgroup('CREATE', stream, 'bench', '0', 'MKSTREAM');
const enqueueSeconds = await fillStream(redis, stream, messages);

const started = performance.now();
let processed = 0;
while (processed < messages) {
  const reply = (await redis.xreadgroup('GROUP', 'bench', 'bare', 'COUNT', 200, 'BLOCK', 1000, 'STREAMS', stream, '>')) as
    | [string, [string, string[]][]][]
    | null;
  const entries = reply?.[0]?.[1] ?? [];
  if (entries.length === 0) continue;
  await redis.xack(stream, 'bench', ...entries.map(([id]) => id));
  processed += entries.length;
}
const processSeconds = (performance.now() - started) / 1000;
await redis.del(stream);
redis.disconnect();
report({ name: 'bare loop', messages, enqueueSeconds, processSeconds });
