import type Redis from 'ioredis';

/** The Redis client the library talks through (ioredis). */
export type { Redis };

/** The stream or its consumer group is gone (Redis restarted empty, failed over, or was flushed). */
export function isNoGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP');
}
