import { Redis } from 'ioredis';
import { redactUrl } from '../config/config.js';
import { StartupError } from '../config/startup-error.js';

export class RedisUnavailableError extends StartupError {
  constructor(url: string, cause: unknown) {
    super(`Cannot reach Redis at ${redactUrl(url)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RedisUnavailableError';
  }
}

/** A connection for BullMQ and our own keys: retries forever in the background (survives a Redis restart). */
export function connectRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: (n) => Math.min(200 * n, 2000) });
  redis.on('error', () => {}); // reconnects on its own; failures surface through commands and readiness
  return redis;
}

/** One-shot reachability check that fails fast instead of queueing the command. */
export async function pingRedis(url: string, timeoutMs = 2000): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new RedisUnavailableError(url, err);
  } finally {
    redis.disconnect();
  }
}
