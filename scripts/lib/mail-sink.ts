/**
 * A real SMTP server in this process (smtp-server), for tests, `bun run chaos` and `bun run bench`: it
 * speaks the protocol the notify worker's nodemailer speaks, keeps every message it accepted, and
 * answers as it is told (accept, greylist with a 451, refuse with a 550). Messages are read with
 * mailparser, only when asked for, so a bench run pays nothing for them.
 */
import type { Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** An SMTP error reply: what the sink answers instead of accepting. */
export interface SmtpReply {
  code: number;
  message: string;
}

/** What the sink answers RCPT TO for `recipient` on its `attempt`-th try (1 first): undefined accepts. */
export type RecipientPolicy = (recipient: string, attempt: number) => SmtpReply | undefined;

/** A message the sink accepted: it answered `250` to its final dot. */
export interface AcceptedMail {
  from: string;
  to: string[];
  raw: Buffer;
  /** Parsed on first use (mailparser). */
  parsed(): Promise<ParsedMail>;
}

export interface MailSink {
  /** SMTP_URL for the workers. */
  url: string;
  port: number;
  accepted: AcceptedMail[];
  /** Every RCPT TO answered, refused ones included, in order. */
  recipients: { recipient: string; reply: SmtpReply | undefined }[];
  /** How the sink answers recipients; change it at any time. */
  policy: RecipientPolicy;
  /**
   * Runs once a message is complete and before the sink answers `250`: a test can stop or kill the
   * sender exactly there. Throwing refuses the message (451) instead.
   */
  beforeAccept: ((mail: Omit<AcceptedMail, 'parsed'>) => Promise<void> | void) | undefined;
  /** Runs right after the sink answered `250` to a message. */
  afterAccept: ((mail: Omit<AcceptedMail, 'parsed'>) => void) | undefined;
  /** Every accepted message, parsed. */
  messages(): Promise<ParsedMail[]>;
  stop(): Promise<void>;
}

export const ACCEPT_ALL: RecipientPolicy = () => undefined;

/** Greylisting as mail servers do it: a recipient's first `times` tries are answered `451 4.7.1`, later ones accepted. */
export function greylist(times = 1, only: (recipient: string) => boolean = () => true): RecipientPolicy {
  return (recipient, attempt) => (only(recipient) && attempt <= times ? { code: 451, message: '4.7.1 Greylisted, please try again later' } : undefined);
}

/** A mailbox that does not exist: `550 5.1.1`, every time. */
export function rejectRecipients(match: (recipient: string) => boolean): RecipientPolicy {
  return (recipient) => (match(recipient) ? { code: 550, message: `5.1.1 <${recipient}>: Recipient address rejected: User unknown` } : undefined);
}

function smtpError({ code, message }: SmtpReply): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/** Starts the sink on 127.0.0.1 (`port` 0: a free one). */
export async function startMailSink({ port = 0, policy = ACCEPT_ALL }: { port?: number; policy?: RecipientPolicy } = {}): Promise<MailSink> {
  const tries = new Map<string, number>();
  const sink: Omit<MailSink, 'url' | 'port' | 'messages' | 'stop'> = { accepted: [], recipients: [], policy, beforeAccept: undefined, afterAccept: undefined };
  const server = new SMTPServer({
    // Plain SMTP on loopback: a STARTTLS with a self-signed certificate would be refused by the client.
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    // No reverse DNS of the client: it is always 127.0.0.1, and a slow resolver would stall every greeting.
    disableReverseLookup: true,
    logger: false,
    // Answered at once (smtp-server's default waits a turn of the event loop), so the replies to a
    // pipelined MAIL FROM, RCPT TO and DATA are all written while that chunk is handled: see batchReplies.
    onMailFrom(_address, _session, callback) {
      callback();
    },
    onRcptTo(address, _session, callback) {
      const recipient = address.address.toLowerCase();
      const attempt = (tries.get(recipient) ?? 0) + 1;
      tries.set(recipient, attempt);
      const reply = sink.policy(recipient, attempt);
      sink.recipients.push({ recipient, reply });
      callback(reply ? smtpError(reply) : null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        const mail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks),
        };
        try {
          await sink.beforeAccept?.(mail);
        } catch (error) {
          return callback(smtpError({ code: 451, message: `4.3.0 ${(error as Error).message}` }));
        }
        let parsed: Promise<ParsedMail> | undefined;
        sink.accepted.push({ ...mail, parsed: () => (parsed ??= simpleParser(mail.raw)) });
        callback(null, 'OK: accepted');
        sink.afterAccept?.(mail);
      });
    },
  });
  server.server.on('connection', batchReplies);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.server.address() as { port: number }).port;
  return Object.assign(sink, {
    url: `smtp://127.0.0.1:${bound}`,
    port: bound,
    messages: () => Promise.all(sink.accepted.map((mail) => mail.parsed())),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/**
 * RFC 2920: a server answering pipelined commands should not flush each reply on its own while more
 * commands are waiting. smtp-server writes every reply to the socket as it goes, so a client's
 * MAIL FROM, RCPT TO and DATA (one segment from nodemailer) cost three writes here, and three reads
 * there; held (cork) until the chunk they came in has been handled, they leave in one.
 */
function batchReplies(socket: Socket) {
  let held = false;
  socket.prependListener('data', () => {
    if (held) return;
    held = true;
    socket.cork();
    setImmediate(() => {
      held = false;
      socket.uncork();
    });
  });
}
