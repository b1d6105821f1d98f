// Following a task from the outside (SSE, CLI, programmatic API): poll its row, report each change.
// Polling the store works the same in both modes and across processes.
import type { Store } from '../store/db.js';
import type { Task } from '../store/schema.js';
import { findTask } from './task-repo.js';
import { TERMINAL_STATES } from './types.js';

export interface WatchOptions {
  pollMs?: number;
  signal?: AbortSignal;
}

/** Yields the task each time its state or progress changes, ending after a terminal state. */
export async function* watchTask(store: Store, id: string, opts: WatchOptions = {}): AsyncGenerator<Task> {
  let lastKey = '';
  for (;;) {
    if (opts.signal?.aborted) return;
    const task = await findTask(store, id);
    if (!task) return;
    const key = `${task.state}|${task.attempt}|${task.progress}|${task.error}`;
    if (key !== lastKey) {
      lastKey = key;
      yield task;
    }
    if (TERMINAL_STATES.includes(task.state)) return;
    await sleep(opts.pollMs ?? 250, opts.signal);
  }
}

export class TaskWaitTimeoutError extends Error {
  constructor(id: string, ms: number) {
    super(`Task ${id} did not finish within ${Math.round(ms / 1000)} s.`);
    this.name = 'TaskWaitTimeoutError';
  }
}

/** Resolves with the finished task (SUCCESS, FAILURE or REVOKED). */
export async function waitForTask(
  store: Store,
  id: string,
  opts: WatchOptions & { timeoutMs?: number; onChange?: (t: Task) => void } = {},
): Promise<Task> {
  // The deadline must fire even while the task does not change (a PENDING task with no worker).
  const timeout = new AbortController();
  const timer = opts.timeoutMs ? setTimeout(() => timeout.abort(), opts.timeoutMs) : undefined;
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
  let last: Task | undefined;
  try {
    for await (const t of watchTask(store, id, { ...opts, signal })) {
      last = t;
      opts.onChange?.(t);
    }
  } finally {
    clearTimeout(timer);
  }
  if (last && TERMINAL_STATES.includes(last.state)) return last;
  if (timeout.signal.aborted) throw new TaskWaitTimeoutError(id, opts.timeoutMs!);
  if (opts.signal?.aborted) throw new Error(`Stopped waiting for task ${id}.`);
  throw new Error(`Task ${id} was not found.`);
}

/** The abort listener is removed after every poll: a long watch must not pile one up per poll on its signal. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
