/**
 * The mail sink of `bun run bench --only smtp` as a process of its own (started by smtp-cost.ts), so
 * the server side of SMTP has its own CPU time (/proc/<pid>/stat) apart from the sender's. It is the
 * sink the tests, chaos and the end-to-end bench run (scripts/lib/mail-sink.ts), unchanged: it accepts
 * everything and keeps what it accepted. Prints `{"url"}` once listening, and `{"accepted"}` on SIGTERM.
 */
import { startMailSink } from '../../scripts/lib/mail-sink.ts';

const sink = await startMailSink();
console.log(JSON.stringify({ url: sink.url }));
process.once('SIGTERM', async () => {
  await sink.stop();
  console.log(JSON.stringify({ accepted: sink.accepted.length }));
  process.exit(0);
});
