// A task is a small named thing that knows its payload type (a Zod schema) and how its errors are
// classified; `defineTask` turns it into the queue's handler. (Outline's tasks / Immich's job handlers.)
import type { z } from 'zod';
import type { ChildrenSummary, HandlerOutcome, Task, TaskContext, TaskHandler } from '../queue/types.js';
import { permanent } from '../sync/errors.js';
import { classifyError } from './classify-error.js';
import type { TaskName } from './task-names.js';

export interface TaskDefinition<S extends z.ZodType> {
  name: TaskName;
  payload: S;
  perform(payload: z.infer<S>, ctx: TaskContext): Promise<HandlerOutcome>;
  summarize?(parent: Task, children: Task[]): ChildrenSummary;
}

export function defineTask<S extends z.ZodType>(def: TaskDefinition<S>): TaskHandler {
  return {
    type: def.name,
    parse(raw: unknown) {
      const parsed = def.payload.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw permanent(
          'invalid-settings',
          `The ${def.name} task has an invalid payload: ${issue?.path.join('.') || 'payload'} ${issue?.message ?? 'is invalid'}.`,
        );
      }
      return parsed.data;
    },
    perform: (payload, ctx) => def.perform(payload as z.infer<S>, ctx),
    classify: classifyError,
    summarize: def.summarize,
  };
}
