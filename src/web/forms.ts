// Schema validation for form and JSON bodies: a Zod failure becomes { field: message } for re-rendering
// the form, or a 400 JSON naming the bad fields.
import type { FastifyReply } from 'fastify';
import { z } from 'zod';

export type FieldErrors = Record<string, string>;

export type Parsed<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors };

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): Parsed<z.infer<S>> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return { ok: true, data: r.data };
  const errors: FieldErrors = {};
  for (const issue of r.error.issues) {
    const key = issue.path.length ? issue.path.map(String).join('.') : 'body';
    if (!errors[key]) errors[key] = issue.message;
  }
  return { ok: false, errors };
}

export function sendBadRequest(reply: FastifyReply, errors: FieldErrors) {
  const names = Object.keys(errors);
  return reply.code(400).send({
    error: 'invalid_input',
    message: `Invalid input: ${names.map((n) => `${n} ${errors[n]}`).join('; ')}`,
    fields: errors,
  });
}

/** A form text field: trimmed string, '' when absent. */
export const text = (max = 500) =>
  z.preprocess(
    (v) => (v === undefined || v === null ? '' : v),
    z.string({ message: 'must be text' }).max(max, `must be at most ${max} characters`),
  );

/** A form checkbox: present ("on", "1", "true") = true, absent = false. */
export const checkbox = z.preprocess((v) => v === 'on' || v === '1' || v === 'true' || v === true, z.boolean());

/** Route param id: a positive integer. */
export const idParams = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'must be a positive whole number')
    .transform(Number),
});

// Task ids are UUIDs; anything outside printable ASCII (a NUL byte above all, which PostgreSQL refuses in a
// text parameter) cannot be one, so it is simply not found rather than a database error.
export const taskIdParam = z.object({
  id: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[\x21-\x7e]+$/),
});
