// Queue name and job options for BullMQ, in one place. Jobs carry only the task id: the payload,
// state and result live in the store.
import type { JobsOptions } from 'bullmq';

export const QUEUE_NAME = 'tasks';
export const BACKOFF_TYPE = 'task-retry';

export interface JobData {
  taskId: string;
}

export function jobOptions(taskId: string, retryAttempts: number, delayMs = 0): JobsOptions {
  return {
    jobId: taskId,
    // The runner decides when to stop (UnrecoverableError); headroom so BullMQ never decides first.
    attempts: retryAttempts + 5,
    backoff: { type: BACKOFF_TYPE },
    delay: delayMs > 0 ? delayMs : undefined,
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 5000 },
  };
}
