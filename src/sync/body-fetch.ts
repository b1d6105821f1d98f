// Bulk body reads on ImapFlow's connection without ImapFlow's response parser. A raw ImapFlow fetch of
// every body of the 10,000-message bench mailbox (287 MB) keeps a process busy for 2.4-3.0 core-seconds
// (its tokenizer, response compiler and message formatter, and the JIT compiling them); a reader like
// this one for 0.6-0.8, start-up included. In a first sync the process uses ~0.6 core-seconds less.
// ImapFlow still connects, authenticates, opens the folder and holds the lock; for one UID FETCH this
// module reads the socket itself, then hands the connection back. Every other response that arrives
// meanwhile (EXISTS, EXPUNGE, VANISHED, flag updates, BYE, the answer to a keepalive NOOP) is passed to
// ImapFlow's own parser unchanged, so its state and events stay as they were. Where the connection is
// not as this expects (compression, another ImapFlow version's internals, a command in flight),
// ImapFlow's fetch() is used instead; so it is for the rest of a read that met a FETCH response this
// reader cannot parse (a server's quirk ImapFlow may well accept): never less than ImapFlow reads.
import type { ImapFlow } from 'imapflow';
import type { Socket } from 'node:net';
import { parseFetchItems, type FetchedBody } from './fetch-response.js';

/** Messages parsed ahead of the consumer before the socket is paused (bounded memory). */
const QUEUE_MAX = 64;
/** A response line (not a literal) longer than this is refused, as ImapFlow refuses it. */
const MAX_LINE = 1024 * 1024;
/** A literal larger than this is refused: no message a sync stores comes near it. */
const MAX_LITERAL = 1024 * 1024 * 1024;

interface ImapFlowInternals {
  socket?: Socket;
  writeSocket?: unknown;
  streamer?: NodeJS.WritableStream & {
    readableLength?: number;
    writableLength?: number;
    inputQueue?: unknown[];
    lineBuffer?: unknown[];
    literalWaiting?: number;
    processingInput?: boolean;
  };
  _inflate?: unknown;
  currentRequest?: unknown;
  requestQueue?: unknown[];
  idling?: boolean;
  mailbox?: { uidNext?: number } | false;
}

let tags = 0;

interface Taken {
  socket: Socket;
  streamer: NodeJS.WritableStream;
  mailbox: { uidNext?: number } | null;
}

/** The connection's socket, parser and mailbox if this reader can take the socket now, else null. */
function takeable(client: ImapFlow): Taken | null {
  const c = client as unknown as ImapFlowInternals;
  const { socket, streamer } = c;
  if (!socket || !streamer || socket.destroyed || c.writeSocket !== socket || c._inflate) return null;
  // ImapFlow idle between commands: nothing of a response half-read in its parser.
  if (c.currentRequest || (c.requestQueue?.length ?? 1) > 0 || c.idling) return null;
  if (streamer.readableLength !== 0 || streamer.writableLength !== 0 || streamer.processingInput) return null;
  if ((streamer.inputQueue?.length ?? 1) > 0 || (streamer.lineBuffer?.length ?? 1) > 0 || streamer.literalWaiting !== 0) return null;
  const pipes = (socket as unknown as { _readableState?: { pipes?: unknown[] } })._readableState?.pipes;
  if (!Array.isArray(pipes) || pipes.length !== 1 || pipes[0] !== streamer) return null;
  return { socket, streamer, mailbox: c.mailbox || null };
}

/** Turns of the event loop to wait for ImapFlow's parser to finish the answer it is reading. */
const SETTLE_TRIES = 20;

/**
 * `UID FETCH range (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])` (or UID and BODY.PEEK[] alone,
 * without `meta`) in the folder the caller holds open and locked, yielded as the messages arrive.
 */
export async function* readBodies(client: ImapFlow, range: string, meta: boolean): AsyncGenerator<FetchedBody> {
  let c = takeable(client);
  // The answer that ended the last command may still be in ImapFlow's parser for a moment.
  for (let i = 0; !c && i < SETTLE_TRIES; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    c = takeable(client);
  }
  const query = meta ? { uid: true, flags: true, size: true, internalDate: true, source: true } : { uid: true, source: true };
  if (!c) {
    yield* client.fetch(range, query, { uid: true });
    return;
  }
  const reader = new DirectFetch(c);
  reader.start(`MHF${(++tags).toString(36)} UID FETCH ${range} (UID${meta ? ' FLAGS RFC822.SIZE INTERNALDATE' : ''} BODY.PEEK[])\r\n`);
  const yielded = new Set<number>();
  try {
    for (;;) {
      const m = await reader.next();
      if (!m) break;
      yielded.add(m.uid);
      yield m;
    }
  } finally {
    // Left early: the rest of the response is read and dropped, then the connection goes back.
    reader.abandon();
  }
  // A response it could not parse: the connection is ImapFlow's again, and ImapFlow reads what is left.
  if (reader.unreadable) for await (const m of client.fetch(range, query, { uid: true })) if (!yielded.has(m.uid)) yield m;
}

/** One UID FETCH read straight from the socket; the socket goes back to ImapFlow's parser when it ends. */
class DirectFetch {
  private tag = '';
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The response being read: its lines (raw bytes) and literals, in order. */
  private pieces: Buffer[] = [];
  private literal: { buf: Buffer; got: number } | null = null;
  private queue: FetchedBody[] = [];
  private ended = false;
  private dropping = false;
  private failure: Error | null = null;
  /** A body came in a FETCH response this cannot parse: the rest of the answer was dropped. */
  unreadable = false;
  private wake: (() => void) | null = null;
  private socketError: Error | null = null;

  private readonly socket: Socket;
  private readonly streamer: NodeJS.WritableStream;
  private readonly mailbox: { uidNext?: number } | null;

  constructor(taken: Taken) {
    ({ socket: this.socket, streamer: this.streamer, mailbox: this.mailbox } = taken);
  }

  start(command: string): void {
    this.tag = command.slice(0, command.indexOf(' '));
    this.socket.unpipe(this.streamer);
    this.socket.on('data', this.onData);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.socket.resume();
    this.socket.write(command);
  }

  async next(): Promise<FetchedBody | null> {
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        if (this.queue.length < QUEUE_MAX / 2 && this.socket.isPaused() && !this.ended) this.socket.resume();
        return m;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  abandon(): void {
    this.queue = [];
    if (this.ended) return;
    this.dropping = true;
    this.socket.resume();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private readonly onError = (err: Error) => {
    this.socketError = err;
  };

  private readonly onClose = () => {
    if (this.ended) return;
    const code = (this.socketError as { code?: string } | null)?.code;
    this.end(Object.assign(new Error('The connection was closed during a FETCH'), { code: code ?? 'NoConnection' }), false);
  };

  private readonly onData = (chunk: Buffer) => {
    try {
      this.read(chunk);
    } catch (err) {
      // Not a response this reader can follow: the connection is of no further use to anyone.
      this.end(err as Error, false);
      this.socket.destroy();
    }
  };

  private read(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && !this.ended) {
      const lit = this.literal;
      if (lit) {
        const n = Math.min(lit.buf.length - lit.got, chunk.length - pos);
        chunk.copy(lit.buf, lit.got, pos, pos + n);
        lit.got += n;
        pos += n;
        if (lit.got === lit.buf.length) {
          this.pieces.push(lit.buf);
          this.literal = null;
        }
        continue;
      }
      const lf = chunk.indexOf(10, pos);
      if (lf < 0) {
        this.partial.push(chunk.subarray(pos));
        this.partialBytes += chunk.length - pos;
        if (this.partialBytes > MAX_LINE) throw new Error('The IMAP server sent a response line too long to read');
        return;
      }
      const line = this.partial.length > 0 ? Buffer.concat([...this.partial, chunk.subarray(pos, lf + 1)]) : chunk.subarray(pos, lf + 1);
      this.partial = [];
      this.partialBytes = 0;
      pos = lf + 1;
      this.pieces.push(line);
      const size = literalSize(line);
      if (size !== null) {
        if (size > MAX_LITERAL) throw new Error('The IMAP server announced a literal too large to read');
        this.literal = { buf: Buffer.allocUnsafeSlow(size), got: 0 };
        if (size === 0) {
          this.pieces.push(this.literal.buf);
          this.literal = null;
        }
        continue;
      }
      const pieces = this.pieces;
      this.pieces = [];
      this.response(pieces);
    }
    // Whatever follows the tagged answer belongs to ImapFlow.
    if (this.ended && pos < chunk.length) this.streamer.write(chunk.subarray(pos));
  }

  /** A complete response: a line, or lines with literals between them. */
  private response(pieces: Buffer[]): void {
    const first = pieces[0].toString('latin1');
    if (first.startsWith(`${this.tag} `)) return this.tagged(first.slice(this.tag.length + 1).trimEnd());
    const m = /^\* \d+ FETCH \(/i.exec(first);
    const items = m ? parseFetchItems(pieces, first, m[0].length) : null;
    // A body this cannot read must not go to ImapFlow: nobody would take it, and its UID would be lost.
    // The rest of the answer is dropped instead (its framing still holds), and readBodies has ImapFlow
    // fetch what was not yielded.
    if (m && !items && /\b(BODY|BINARY)\[/i.test(first)) {
      this.unreadable = true;
      this.dropping = true;
      return;
    }
    if (!items || !('source' in items)) {
      this.streamer.write(pieces.length === 1 ? pieces[0] : Buffer.concat(pieces));
      return;
    }
    if (this.dropping) return;
    // As ImapFlow does: a UID at or above the known UIDNEXT moves it on.
    if (this.mailbox && items.uid && (!this.mailbox.uidNext || this.mailbox.uidNext <= items.uid)) this.mailbox.uidNext = items.uid + 1;
    this.queue.push(items);
    if (this.queue.length >= QUEUE_MAX) this.socket.pause();
    this.notify();
  }

  private tagged(text: string): void {
    const [status] = text.split(' ', 1);
    const rest = text.slice(status.length + 1);
    const code = /^\[([^\]\s]+)[^\]]*\]\s*/.exec(rest);
    const responseText = code ? rest.slice(code[0].length) : rest;
    // ImapFlow takes this NO as success with fewer messages than asked for; so does this reader.
    if (status.toUpperCase() === 'OK' || /Some of the requested messages no longer exist/.test(responseText)) this.end(null, true);
    else
      this.end(
        Object.assign(new Error('Command failed'), {
          responseStatus: status.toUpperCase(),
          responseText,
          serverResponseCode: code?.[1].toUpperCase(),
        }),
        true,
      );
  }

  /** Ends the read (with `err`, its failure); with `giveBack`, ImapFlow's parser reads the socket again. */
  private end(err: Error | null, giveBack: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = err;
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    if (giveBack && !this.socket.destroyed) this.socket.pipe(this.streamer);
    this.notify();
  }
}

/** The size of the literal a response line announces at its end (`{123}` CRLF), or null. */
function literalSize(line: Buffer): number | null {
  let i = line.length - 1;
  if (line[i] === 10) i--;
  if (line[i] === 13) i--;
  if (line[i] !== 0x7d) return null; // }
  let j = i - 1;
  if (line[j] === 0x2b) j--; // {123+}
  let size = 0;
  let digits = 0;
  for (; j >= 0 && line[j] >= 0x30 && line[j] <= 0x39; j--, digits++) size += (line[j] - 0x30) * 10 ** digits;
  if (digits === 0 || digits > 10 || line[j] !== 0x7b) return null; // {
  // literal8 (~{n}) is never asked for here; its ~ is just not part of the size.
  return size;
}
