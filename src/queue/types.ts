// The queue port: what a backend must do, and what a task handler sees. Backends: local/ and bullmq/.
import type { QueueKind } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import type { Grant, Task, TaskState } from '../store/schema.js';

export type { QueueKind, Task, TaskState };

export const TERMINAL_STATES: readonly TaskState[] = ['SUCCESS', 'FAILURE', 'REVOKED'];
export const LIVE_STATES: readonly TaskState[] = ['PENDING', 'STARTED', 'RETRY'];

export type ErrorKind = 'transient' | 'permanent';

/** An error as the retry policy sees it: a kind that decides, a message safe to show. */
export interface ClassifiedError {
  kind: ErrorKind;
  code: string;
  message: string;
}

/** Progress as data: the last value is stored on the task, streamed over SSE and drawn by the CLI. */
export type TaskProgress = Record<string, unknown>;

export interface EnqueueRequest {
  type: string;
  userId: number | null;
  accountId?: number | null;
  parentId?: string | null;
  payload: Record<string, unknown>;
  /** Tasks sharing a dedupe key never run side by side: a second enqueue returns the live one. */
  dedupeKey?: string | null;
  /** The task's sync grant, inserted with the task row in one transaction (dropped if deduplicated). */
  grant?: Grant;
  /** Or an existing long-lived grant (a schedule's), which outlives the task. */
  grantId?: string;
}

export interface EnqueueResult {
  task: Task;
  deduplicated: boolean;
}

export interface TaskContext {
  taskId: string;
  userId: number | null;
  attempt: number;
  /** The sync grant attached to the task row (never part of the payload). */
  grantId: string | null;
  workerId: string;
  /** Aborted when the task is cancelled or the worker shuts down. */
  signal: AbortSignal;
  progress(p: TaskProgress): void;
  /** Creates child tasks (every row first, then dispatch) with this task as parent. */
  enqueueChildren(children: EnqueueRequest[]): Promise<EnqueueResult[]>;
  logger: Logger;
}

/** What a handler's run ends with: a result, or "my children carry on; finish me when they are done". */
export type HandlerOutcome = { result: unknown } | { waitForChildren: true; progress?: TaskProgress };

export interface ChildrenSummary {
  state: 'SUCCESS' | 'FAILURE';
  result: unknown;
  error?: string;
}

export interface TaskHandler {
  readonly type: string;
  /** Validates a stored payload; throws a permanent error on a bad one. */
  parse(payload: unknown): unknown;
  perform(payload: unknown, ctx: TaskContext): Promise<HandlerOutcome>;
  classify(err: unknown): ClassifiedError;
  /** For parents: the final state and result from the children's rows. */
  summarize?(parent: Task, children: Task[]): ChildrenSummary;
}

export type HandlerMap = ReadonlyMap<string, TaskHandler>;

/** Where jobs go: the local backend's queue is the tasks table itself; BullMQ's is Redis. */
export interface QueueBackend {
  readonly kind: QueueKind;
  /** Makes the task runnable; throws QueueUnavailableError when the queue cannot take it. */
  dispatch(task: Task): Promise<void>;
  /** Best effort: removes a not-yet-running job (the task row is already REVOKED). */
  withdraw(taskId: string): Promise<void>;
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface WorkerRuntime {
  readonly id: string;
  start(): Promise<void>;
  /** Finishes running jobs within `graceMs`, then hands the rest back to the queue. */
  stop(graceMs?: number): Promise<void>;
}

export class QueueUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'QueueUnavailableError';
  }
}

export interface RetryConfig {
  retryBaseMs: number;
  retryAttempts: number;
}
