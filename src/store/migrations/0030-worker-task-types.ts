import type { Migration } from './types.js';

/** Workers report the task types they run, so health can spot a worker on an older build ("task not registered"). */
export const workerTaskTypes: Migration = {
  name: '0030-worker-task-types',
  async up(db) {
    await db.schema
      .alterTable('workers')
      .addColumn('task_types', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
  },
};
