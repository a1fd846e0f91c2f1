/** BullMQ Queue + Worker on the same Redis, same payload, same no-op handler and concurrency. */
import { Queue, Worker } from 'bullmq';
import { contenderArgs, report, sampleFields } from './common.ts';

const { messages, concurrency, prefix, redisUrl } = contenderArgs();
const connection = { url: redisUrl, maxRetriesPerRequest: null };
const name = 'bench';
const queue = new Queue(name, { connection, prefix: `${prefix}bullmq` });
await queue.obliterate({ force: true }).catch(() => {});
const data = sampleFields();

const enqueueStarted = performance.now();
for (let done = 0; done < messages; done += 1000) {
  const size = Math.min(1000, messages - done);
  await queue.addBulk(Array.from({ length: size }, () => ({ name: 'order', data, opts: { removeOnComplete: true, removeOnFail: true } })));
}
const enqueueSeconds = (performance.now() - enqueueStarted) / 1000;

let completed = 0;
let allDone!: () => void;
const done = new Promise<void>((resolve) => (allDone = resolve));
const started = performance.now();
const worker = new Worker(name, async () => {}, { connection, prefix: `${prefix}bullmq`, concurrency });
worker.on('completed', () => {
  if (++completed === messages) allDone();
});
await done;
const processSeconds = (performance.now() - started) / 1000;
await worker.close();
await queue.obliterate({ force: true }).catch(() => {});
await queue.close();
report({ name: 'bullmq', messages, enqueueSeconds, processSeconds });
