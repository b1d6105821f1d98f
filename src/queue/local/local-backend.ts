// The local queue's "queue" is the tasks table itself: dispatching only wakes the in-process worker.
import { checkStore, type Store } from '../../store/db.js';
import type { QueueBackend } from '../types.js';

export class LocalBackend implements QueueBackend {
  readonly kind = 'local' as const;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly store: Store) {}

  async dispatch(): Promise<void> {
    for (const wake of this.listeners) wake();
  }

  /** The row is already REVOKED, which the poller skips. */
  async withdraw(): Promise<void> {}

  onDispatch(wake: () => void): () => void {
    this.listeners.add(wake);
    return () => this.listeners.delete(wake);
  }

  check(): Promise<void> {
    return checkStore(this.store);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
