// Message detail, its sandboxed HTML body, attachment and raw downloads, and the JSON API. Every lookup is
// scoped to the logged-in user in the read model: another user's message or attachment is simply absent → 404.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { getAttachment, getMessage, getRawMessage, listMessages, type MessageDetail } from '../../messages/message-repo.js';
import { sanitizeEmailHtml } from '../../messages/html-sanitizer.js';
import type { AppDeps } from '../app.js';
import { requireUser } from '../auth/session.js';
import { idParams, parseInput, sendBadRequest } from '../forms.js';
import { resolveListQuery } from '../message-query.js';
import { html, raw } from '../views/html.js';
import { sendPage } from '../views/layout.js';
import { messageDetail } from '../views/message-views.js';

const attachmentParams = idParams.extend({
  idx: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,5})$/, 'must be a whole number (0 or more)')
    .transform(Number),
});

/**
 * The HTML body is served as its own document at /messages/:id/body and shown in `<iframe sandbox>`, rather
 * than inlined or put in `srcdoc`: a srcdoc frame inherits our pages' CSP (no inline styles), which would
 * break the mail's styling and fill the console with CSP errors. Its own response carries a CSP that allows
 * inline styles but nothing else (no scripts, no network, images from data: only) and the `sandbox`
 * directive, so even opening the URL directly runs nothing.
 */
const BODY_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox";
/** Downloads are never rendered by us; should a browser try anyway, nothing in them may run. */
const DOWNLOAD_CSP = "default-src 'none'; sandbox";

const BODY_STYLE =
  'body{font:15px/1.45 system-ui,sans-serif;margin:8px;color:#1d232a;word-wrap:break-word}img{max-width:100%}.mh-blocked{display:inline-block;padding:0 4px;border:1px dashed #b08a00;color:#6b5500;font-size:12px}';

/** A filename that cannot break the header or point elsewhere: no control characters, quotes, slashes or dots in front. */
export function safeFilename(name: string | null, fallback: string): string {
  const cleaned = (name ?? '')
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex -- control characters must not reach a header
    .replace(/[\u0000-\u001f\u007f-\u009f"\\/:*?<>|]+/g, '_')
    .replace(/^[.\s]+/, '')
    .trim()
    .slice(0, 150);
  return cleaned || fallback;
}

/** RFC 6266: an ASCII fallback plus the UTF-8 name in filename*. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/[%;]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

const SAFE_MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/i;

function sendDownload(reply: FastifyReply, body: Buffer, filename: string, mimeType: string) {
  return reply
    .header('content-disposition', contentDisposition(filename))
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', DOWNLOAD_CSP)
    .header('cache-control', 'private, no-store')
    .type(SAFE_MIME.test(mimeType) ? mimeType.toLowerCase() : 'application/octet-stream')
    .send(body);
}

/** Runs fn with the request's DEK and wipes the key afterwards. */
async function withDek<T>(req: FastifyRequest, fn: (dek: Buffer) => Promise<T>): Promise<T> {
  const dek = req.dek();
  try {
    return await fn(dek);
  } finally {
    dek.fill(0);
  }
}

/** ISO 8601, or null for a missing or out-of-range date (a parsed Date header can be anything). */
function isoDate(ms: number | null): string | null {
  if (ms === null) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function detailJson(m: MessageDetail) {
  const sanitized = m.html === null ? null : sanitizeEmailHtml(m.html);
  return {
    id: m.id,
    accountId: m.accountId,
    accountName: m.accountName,
    folderId: m.folderId,
    folder: m.folderPath,
    date: isoDate(m.date),
    from: m.from,
    to: m.to,
    cc: m.cc,
    subject: m.subject,
    messageId: m.messageId,
    flags: m.flags,
    size: m.size,
    parseError: m.parseError,
    text: m.text,
    html: sanitized?.html ?? null,
    remoteContentBlocked: sanitized?.remoteBlocked ?? 0,
    attachments: m.attachments.map((a) => ({
      ...a,
      url: a.tooLarge ? null : `/messages/${m.id}/attachments/${a.idx}`,
    })),
    rawUrl: `/messages/${m.id}/raw`,
  };
}

export function messageRoutes(app: FastifyInstance, deps: AppDeps): void {
  const db = deps.store.db;

  app.get('/messages/:id', { preHandler: requireUser }, async (req, reply) => {
    const p = parseInput(idParams, req.params);
    if (!p.ok) return sendBadRequest(reply, p.errors);
    const m = await withDek(req, (dek) => getMessage(db, dek, req.user!.id, p.data.id));
    if (!m) return reply.callNotFound();
    const remoteBlocked = m.html === null ? 0 : sanitizeEmailHtml(m.html).remoteBlocked;
    return sendPage(
      req,
      reply,
      m.subject || '(no subject)',
      html`<p><a href="/">← All messages</a></p>
        ${messageDetail(m, remoteBlocked)}`,
    );
  });

  app.get('/messages/:id/body', { preHandler: requireUser }, async (req, reply) => {
    const p = parseInput(idParams, req.params);
    if (!p.ok) return sendBadRequest(reply, p.errors);
    const m = await withDek(req, (dek) => getMessage(db, dek, req.user!.id, p.data.id));
    if (!m || m.html === null) return reply.callNotFound();
    const doc = html`<!doctype html>
      <html>
        <head>
          <meta charset="utf-8" />
          <meta name="referrer" content="no-referrer" />
          <style>
            ${raw(BODY_STYLE)}
          </style>
        </head>
        <body>
          ${raw(sanitizeEmailHtml(m.html).html)}
        </body>
      </html>`;
    return reply
      .header('content-security-policy', BODY_CSP)
      .header('x-frame-options', 'SAMEORIGIN')
      .header('cache-control', 'private, no-store')
      .type('text/html; charset=utf-8')
      .send(doc.value);
  });

  app.get('/messages/:id/attachments/:idx', { preHandler: requireUser }, async (req, reply) => {
    const p = parseInput(attachmentParams, req.params);
    if (!p.ok) return sendBadRequest(reply, p.errors);
    const a = await withDek(req, (dek) => getAttachment(db, dek, req.user!.id, p.data.id, p.data.idx));
    if (!a) return reply.callNotFound();
    if (!a.content) {
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send('This attachment was too large to store: only its name and size were kept.');
    }
    return sendDownload(reply, a.content, safeFilename(a.filename, `attachment-${p.data.idx}.bin`), a.mimeType);
  });

  app.get('/messages/:id/raw', { preHandler: requireUser }, async (req, reply) => {
    const p = parseInput(idParams, req.params);
    if (!p.ok) return sendBadRequest(reply, p.errors);
    const rawSource = await withDek(req, (dek) => getRawMessage(db, dek, req.user!.id, p.data.id));
    if (!rawSource) return reply.callNotFound();
    return sendDownload(reply, rawSource, `message-${p.data.id}.eml`, 'message/rfc822');
  });

  app.get('/api/messages', { preHandler: requireUser }, async (req, reply) => {
    const q = await resolveListQuery(db, req.user!.id, req.query);
    if (!q.ok) return sendBadRequest(reply, q.errors);
    const page = await withDek(req, (dek) => listMessages(db, dek, req.user!.id, q.value.filter));
    return {
      total: page.total,
      page: page.page,
      pageSize: page.pageSize,
      messages: page.rows.map((r) => ({ ...r, date: isoDate(r.date) })),
    };
  });

  app.get('/api/messages/:id', { preHandler: requireUser }, async (req, reply) => {
    const p = parseInput(idParams, req.params);
    if (!p.ok) return sendBadRequest(reply, p.errors);
    const m = await withDek(req, (dek) => getMessage(db, dek, req.user!.id, p.data.id));
    if (!m) return reply.callNotFound();
    return detailJson(m);
  });
}
