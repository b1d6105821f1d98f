// The part tree of a message for the MIME fast path (parse-fast.ts), split the way postal-mime 4's
// processLine splits it: lines end at LF with trailing CRs dropped; a header block ends at the first
// empty line; a line is a boundary of the innermost open multipart whose boundary it starts with (then
// an optional `--` and only SP/HT); a terminator returns to the enclosing multipart. Bodies are kept as
// byte ranges of the raw message; only lines starting with `--` are looked at inside them.
import { decline, firstValue, headerFields, headerLines, parseStructured, type HeaderField, type Structured } from './headers.js';

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASHES = Buffer.from('\n--');
// postal-mime rejects deeper nesting (maxNestingDepth 64) and more than 2 MB of headers; stay clear of both.
const MAX_DEPTH = 50;
const MAX_HEADER_BYTES = 1024 * 1024;

export interface Part {
  parent: Part | null;
  depth: number;
  children: Part[];
  headerStart: number;
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  fields: HeaderField[];
  type: Structured;
  /** The multipart subtype, or null for a leaf. */
  multipart: string | null;
}

function newPart(parent: Part | null, start: number): Part {
  const depth = parent ? parent.depth + 1 : 0;
  if (depth > MAX_DEPTH) decline();
  const p: Part = {
    parent,
    depth,
    children: [],
    headerStart: start,
    headerEnd: -1,
    bodyStart: -1,
    bodyEnd: -1,
    fields: [],
    type: { value: 'text/plain', params: new Map() },
    multipart: null,
  };
  parent?.children.push(p);
  return p;
}

function processHeaders(raw: Buffer, part: Part): void {
  part.fields = headerFields(headerLines(raw, part.headerStart, part.headerEnd));
  const ct = firstValue(part.fields, 'content-type');
  if (ct === undefined) return;
  part.type = parseStructured(ct);
  const v = part.type.value;
  if (v.startsWith('multipart/')) {
    part.multipart = v.slice(10);
    // postal-mime reads `multipart/` as a leaf, a missing boundary leaves a multipart without parts,
    // and parts of a digest default to message/rfc822.
    if (!part.multipart || part.multipart === 'digest' || !part.type.params.get('boundary')) decline();
  }
}

interface Boundary {
  value: Buffer;
  node: Part;
}

/** Splits raw into the part tree, deciding every boundary line as postal-mime's processLine does. */
export function parseTree(raw: Buffer): Part {
  const len = raw.length;
  const root = newPart(null, 0);
  const boundaries: Boundary[] = [];
  let current = root;
  let inHeader = true;
  let headerBytes = 0;
  let pos = 0;

  // The boundary the line raw[start, end) is, innermost first, or -1.
  const matchBoundary = (start: number, end: number): number => {
    if (end - start <= 2 || raw[start] !== DASH || raw[start + 1] !== DASH) return -1;
    for (let i = boundaries.length - 1; i >= 0; i--) {
      const b = boundaries[i].value;
      if (end - start < b.length + 2 || raw.compare(b, 0, b.length, start + 2, start + 2 + b.length) !== 0) continue;
      let k = start + 2 + b.length;
      if (end - start >= b.length + 4 && raw[k] === DASH && raw[k + 1] === DASH) k += 2;
      while (k < end && (raw[k] === 0x20 || raw[k] === 0x09)) k++;
      if (k === end) return i;
    }
    return -1;
  };

  // Leaves `current` at a line: its header block or body ends there.
  const leave = (at: number): void => {
    if (inHeader) {
      current.headerEnd = Math.max(at, current.headerStart);
      processHeaders(raw, current);
    } else current.bodyEnd = at;
  };

  const onBoundary = (i: number, start: number, end: number, next: number): void => {
    leave(start);
    const { value, node } = boundaries[i];
    const terminator = end - start >= value.length + 4 && raw[start + 2 + value.length] === DASH && raw[start + 3 + value.length] === DASH;
    // Finishing a multipart finishes its descendants, whose boundaries all follow its own.
    if (terminator) {
      boundaries.length = i;
      current = node.parent ?? root;
      inHeader = false;
    } else {
      boundaries.length = i + 1;
      current = newPart(node, next);
      inHeader = true;
    }
  };

  while (pos < len) {
    if (inHeader) {
      let lf = raw.indexOf(LF, pos);
      if (lf < 0) lf = len;
      let end = lf;
      while (end > pos && raw[end - 1] === CR) end--;
      const b = boundaries.length ? matchBoundary(pos, end) : -1;
      if (b >= 0) onBoundary(b, pos, end, lf + 1);
      else if (end === pos) {
        current.headerEnd = pos;
        processHeaders(raw, current);
        if (current.multipart) boundaries.push({ value: Buffer.from(current.type.params.get('boundary')!, 'utf8'), node: current });
        current.bodyStart = lf + 1;
        inHeader = false;
      } else if ((headerBytes += end - pos) > MAX_HEADER_BYTES) decline();
      pos = lf + 1;
      continue;
    }
    // In a body only lines starting with `--` can change anything: jump from one to the next.
    if (!boundaries.length) break;
    let start = pos;
    if (raw[pos] !== DASH || raw[pos + 1] !== DASH) {
      const nl = raw.indexOf(NL_DASHES, pos);
      if (nl < 0) break;
      start = nl + 1;
    }
    let lf = raw.indexOf(LF, start);
    if (lf < 0) lf = len;
    let end = lf;
    while (end > start && raw[end - 1] === CR) end--;
    const b = matchBoundary(start, end);
    if (b >= 0) onBoundary(b, start, end, lf + 1);
    pos = lf + 1;
  }
  leave(len);
  return root;
}
