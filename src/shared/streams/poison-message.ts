/**
 * An entry that can never be processed (it fails its schema, or names something that does not
 * exist). Thrown by a decoder or handler, it sends the entry to the dead-letter stream at once,
 * with this message as the reason; no retry could help it.
 */
export class PoisonMessage extends Error {
  readonly code = 'poison_message';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoisonMessage';
  }
}
