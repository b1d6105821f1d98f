// Turns an e-mail's HTML body into markup that can neither run code nor reach the network.
//
// Why our own sanitiser: no well-kept one (sanitize-html, DOMPurify, xss) is installed, and adding one is
// the lead's call. So this is one layer of two: an allowlist rewrite (unknown elements and attributes are
// dropped, URLs must match an allowed scheme AFTER entity decoding, remote images/CSS become placeholders),
// and the web layer serves the result in a sandboxed iframe under its own CSP (`default-src 'none'`, no
// scripts, images only from data:). Either layer alone stops scripts and remote loads; together a gap in
// one is covered by the other. Pure function, no I/O.

export interface SanitizedHtml {
  html: string;
  /** Remote images, backgrounds and stylesheets that were removed (tracking pixels, remote CSS). */
  remoteBlocked: number;
}

const ALLOWED = new Set(
  (
    'a abbr address article aside b bdi bdo big blockquote br caption center cite code col colgroup dd del details dfn div dl dt em ' +
    'figcaption figure font footer h1 h2 h3 h4 h5 h6 header hr i img ins kbd li main mark ol p pre q s samp section small span strike ' +
    'strong sub summary sup table tbody td tfoot th thead tr tt u ul var wbr'
  ).split(' '),
);
/** Elements removed together with everything inside them. */
const DROP_WITH_CONTENT = new Set(
  'script style iframe frame frameset object embed applet noscript noembed noframes template title textarea select svg math canvas audio video xmp plaintext head'.split(
    ' ',
  ),
);
/** Of those, the ones whose content the HTML parser treats as raw text (ends only at the matching end tag). */
const RAW_TEXT = new Set('script style iframe noscript noembed noframes title textarea xmp plaintext'.split(' '));
const VOID = new Set('br col hr img wbr'.split(' '));
const ATTRS = new Set(
  'style title dir lang align valign width height bgcolor color border cellpadding cellspacing colspan rowspan face size alt start type'.split(
    ' ',
  ),
);
const SAFE_LINK = /^(https?:|mailto:|tel:|#)/i;
const SAFE_IMAGE = /^data:image\/(png|gif|jpe?g|webp);base64,[a-z0-9+/=\s]*$/i;

const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  colon: ':',
  tab: '\t',
  newline: '\n',
};

/** Decodes character references the way a browser would in an attribute value (enough to see the real URL scheme). */
export function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);?/gi, (m, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : '\ufffd';
    }
    return NAMED[ref.toLowerCase()] ?? m;
  });
}

const escapeAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeText = (v: string) => v.replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Browsers ignore control characters and whitespace inside a URL scheme ("java\tscript:"). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must go
const normaliseUrl = (v: string) => decodeEntities(v).replace(/[\u0000-\u0020\u007f-\u009f]/g, '');

/** Sanitises CSS text: remote url()s become `none`, imports go; anything that could smuggle code drops it all. */
export function sanitizeCss(css: string, counter: { remoteBlocked: number }): string {
  let out = css.replace(/\/\*[\s\S]*?\*\//g, '');
  if (/[\\<]|expression\s*\(|javascript:|behaviou?r\s*:|-moz-binding/i.test(out)) return '';
  out = out.replace(/@import[^;]*;?/gi, () => {
    counter.remoteBlocked++;
    return '';
  });
  out = out.replace(/url\s*\(\s*(['"]?)([^'")]*)\1\s*\)/gi, (_m, _q, url: string) => {
    if (SAFE_IMAGE.test(url.trim())) return `url("${url.trim()}")`;
    counter.remoteBlocked++;
    return 'none';
  });
  // Whatever url( is left was not well-formed: refuse the whole thing rather than guess.
  return /url\s*\(|image-set\s*\(/i.test(out.replace(/url\("data:image[^"]*"\)/gi, '')) ? '' : out;
}

interface Attr {
  name: string;
  value: string;
}

/** Reads the attributes of a start tag from `s` at `i` (just after the tag name); returns them and the index after '>'. */
function readAttributes(s: string, i: number): { attrs: Attr[]; end: number } {
  const attrs: Attr[] = [];
  const n = s.length;
  while (i < n) {
    while (i < n && /[\s/]/.test(s[i])) i++;
    if (i >= n || s[i] === '>') return { attrs, end: i + 1 };
    const nameStart = i;
    while (i < n && !/[\s/>=]/.test(s[i])) i++;
    // A lone '=' or similar: consume it so that the loop moves on.
    if (i === nameStart) i++;
    const name = s.slice(nameStart, i).toLowerCase();
    while (i < n && /\s/.test(s[i])) i++;
    let value = '';
    if (s[i] === '=') {
      i++;
      while (i < n && /\s/.test(s[i])) i++;
      const q = s[i];
      if (q === '"' || q === "'") {
        const close = s.indexOf(q, i + 1);
        const stop = close === -1 ? n : close;
        value = s.slice(i + 1, stop);
        i = stop + 1;
      } else {
        const start = i;
        while (i < n && !/[\s>]/.test(s[i])) i++;
        value = s.slice(start, i);
      }
    }
    attrs.push({ name, value });
  }
  return { attrs, end: n };
}

function renderStartTag(tag: string, attrs: Attr[], counter: { remoteBlocked: number }): string {
  const out: string[] = [];
  for (const { name, value } of attrs) {
    if (name === 'style') {
      const css = sanitizeCss(decodeEntities(value), counter);
      if (css.trim()) out.push(`style="${escapeAttr(css)}"`);
    } else if (name === 'href' && tag === 'a') {
      const url = normaliseUrl(value);
      if (SAFE_LINK.test(url)) out.push(`href="${escapeAttr(url)}"`, 'target="_blank"', 'rel="noopener noreferrer"');
    } else if (name === 'background') {
      counter.remoteBlocked++;
    } else if (ATTRS.has(name)) {
      out.push(`${name}="${escapeAttr(decodeEntities(value))}"`);
    }
  }
  if (tag === 'img') {
    const src = attrs.find((a) => a.name === 'src');
    const url = src ? normaliseUrl(src.value) : '';
    if (!SAFE_IMAGE.test(url)) {
      if (url) counter.remoteBlocked++;
      const alt = attrs.find((a) => a.name === 'alt')?.value;
      return `<span class="mh-blocked" title="remote image blocked">[image blocked${alt ? `: ${escapeText(decodeEntities(alt))}` : ''}]</span>`;
    }
    out.push(`src="${escapeAttr(url)}"`);
  }
  return `<${tag}${out.length ? ' ' + out.join(' ') : ''}>`;
}

/** Index of the end of the raw-text element `tag` starting its content at `from` (after its closing tag), or the end of input. */
function skipRawText(s: string, from: number, tag: string): { content: string; end: number } {
  const re = new RegExp(`</${tag}[\\s/>]`, 'ig');
  re.lastIndex = from;
  const m = re.exec(s);
  if (!m) return { content: s.slice(from), end: s.length };
  const close = s.indexOf('>', m.index);
  return { content: s.slice(from, m.index), end: close === -1 ? s.length : close + 1 };
}

export function sanitizeEmailHtml(input: string): SanitizedHtml {
  const counter = { remoteBlocked: 0 };
  const out: string[] = [];
  const styles: string[] = [];
  // Nesting depth of elements dropped with their content (non-raw ones like <svg> or <head>).
  const dropStack: string[] = [];
  const s = input;
  const n = s.length;
  let i = 0;
  const emit = (chunk: string) => {
    if (dropStack.length === 0) out.push(chunk);
  };
  while (i < n) {
    const lt = s.indexOf('<', i);
    if (lt === -1) {
      emit(escapeText(s.slice(i)));
      break;
    }
    if (lt > i) emit(escapeText(s.slice(i, lt)));
    i = lt;
    if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i + 4);
      i = end === -1 ? n : end + 3;
      continue;
    }
    if (s[i + 1] === '!' || s[i + 1] === '?') {
      const end = s.indexOf('>', i);
      i = end === -1 ? n : end + 1;
      continue;
    }
    const endTag = /^<\/([a-z][a-z0-9-]*)[^>]*>?/i.exec(s.slice(i, i + 200));
    if (endTag) {
      const tag = endTag[1].toLowerCase();
      const close = s.indexOf('>', i);
      i = close === -1 ? n : close + 1;
      const open = dropStack.lastIndexOf(tag);
      if (open !== -1) dropStack.length = open;
      else if (ALLOWED.has(tag) && !VOID.has(tag)) emit(`</${tag}>`);
      continue;
    }
    const startTag = /^<([a-z][a-z0-9-]*)/i.exec(s.slice(i, i + 100));
    if (!startTag) {
      emit('&lt;');
      i++;
      continue;
    }
    const tag = startTag[1].toLowerCase();
    const { attrs, end } = readAttributes(s, i + startTag[0].length);
    i = end;
    if (tag === 'link' && attrs.some((a) => a.name === 'href')) counter.remoteBlocked++;
    if (RAW_TEXT.has(tag)) {
      const { content, end: after } = skipRawText(s, i, tag);
      i = after;
      if (tag === 'style' && dropStack.every((t) => t === 'head')) {
        const css = sanitizeCss(content, counter);
        if (css.trim()) styles.push(css);
      }
      continue;
    }
    // Browsers end an unclosed <head> at <body>.
    if (tag === 'body') dropStack.splice(0, dropStack.length, ...dropStack.filter((t) => t !== 'head'));
    if (DROP_WITH_CONTENT.has(tag)) {
      // <head> holds the <style> elements we keep: only svg/math/etc. hide their content.
      if (tag !== 'embed' && !s.slice(i - 2, i).includes('/')) dropStack.push(tag);
      continue;
    }
    if (ALLOWED.has(tag)) emit(renderStartTag(tag, attrs, counter));
  }
  const styleBlock = styles.length ? `<style>${styles.join('\n')}</style>` : '';
  return { html: styleBlock + out.join(''), remoteBlocked: counter.remoteBlocked };
}
