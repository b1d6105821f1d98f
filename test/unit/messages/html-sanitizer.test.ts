import { describe, expect, it } from 'vitest';
import { sanitizeCss, sanitizeEmailHtml } from '../../../src/messages/html-sanitizer.js';

const clean = (s: string) => sanitizeEmailHtml(s).html;

describe('e-mail HTML sanitiser', () => {
  it('removes scripts, event handlers, frames, objects and forms with their content', () => {
    const out = clean(
      '<body onload="x()"><script>alert(1)</script><p onclick="y()">hi</p><iframe src="https://e.example">in</iframe>' +
        '<object data="x.swf"><embed src="y"></object><form action="https://e.example"><input name="a"><button>Go</button></form>' +
        '<svg><script>z()</script></svg><SCRIPT >bad()</SCRIPT ><img src=x onerror=alert(1)></body>',
    );
    expect(out).not.toMatch(/script|onload|onclick|onerror|iframe|object|embed|<form|<input|<svg|alert|bad\(\)/i);
    expect(out).toContain('<p>hi</p>');
    expect(out).toContain('Go');
  });

  it('drops javascript:, vbscript: and data: links even when disguised with entities or whitespace', () => {
    for (const href of [
      'javascript:alert(1)',
      'jav&#x61;script:alert(1)',
      ' java\tscript:x',
      'javascript&colon;x',
      'vbscript:x',
      'data:text/html,x',
      'JaVaScRiPt:x',
    ]) {
      const out = clean(`<a href="${href}">link</a>`);
      expect(out).toBe('<a>link</a>');
    }
    expect(clean('<a href="https://example.org/?a=1&amp;b=2">x</a>')).toBe(
      '<a href="https://example.org/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">x</a>',
    );
  });

  it('replaces remote images with a placeholder and counts them; keeps data: images', () => {
    const r = sanitizeEmailHtml('<img src="http://tracker.example/p.gif" alt="logo"><img src="data:image/png;base64,iVBORw0KGgo=">');
    expect(r.remoteBlocked).toBe(1);
    expect(r.html).not.toContain('tracker.example');
    expect(r.html).toContain('[image blocked: logo]');
    expect(r.html).toContain('<img src="data:image/png;base64,iVBORw0KGgo=">');
  });

  it('blocks remote CSS: url(), @import, link stylesheets and background attributes', () => {
    const r = sanitizeEmailHtml(
      '<head><link rel="stylesheet" href="https://e.example/a.css"><style>@import url(https://e.example/b.css); p{color:red;background:url(http://e.example/bg.png)}</style></head>' +
        '<body><table background="http://e.example/t.png"><tr><td style="background-image: url(\'https://e.example/c.png\'); color: blue">x</td></tr></table></body>',
    );
    expect(r.html).not.toMatch(/e\.example/);
    expect(r.html).toContain('color:red');
    expect(r.html).toContain('color: blue');
    expect(r.remoteBlocked).toBe(5);
  });

  it('refuses CSS that could smuggle code or hide a url() behind escapes', () => {
    const c = { remoteBlocked: 0 };
    expect(sanitizeCss('width: expression(alert(1))', c)).toBe('');
    expect(sanitizeCss('background: \\75 rl(http://e.example)', c)).toBe('');
    expect(sanitizeCss('color: red', c)).toBe('color: red');
  });

  it('escapes stray angle brackets and quotes in attribute values, and survives broken markup', () => {
    expect(clean('a < b > c')).toBe('a &lt; b &gt; c');
    expect(clean('<p title="x&quot; onmouseover=&quot;y">t</p>')).toBe('<p title="x&quot; onmouseover=&quot;y">t</p>');
    expect(clean('<p title="unclosed>text')).toBe('<p title="unclosed&gt;text">');
    expect(clean('<script>never closed')).toBe('');
    expect(clean('<!-- <script>x</script> -->ok')).toBe('ok');
  });
});

describe('e-mail HTML sanitiser on generated input', () => {
  // Deterministic PRNG so that a failure can be reproduced.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = [
    '<',
    '>',
    '/',
    '"',
    "'",
    '=',
    ' ',
    '\n',
    '\t',
    '&',
    '&#x6a;',
    '&colon;',
    '&lt;',
    '<!--',
    '-->',
    '<!',
    '<?',
    ']]>',
    'script',
    'SCRIPT',
    'style',
    'iframe',
    'img',
    'a',
    'p',
    'svg',
    'math',
    'object',
    'form',
    'input',
    'head',
    'body',
    'title',
    'textarea',
    'src',
    'href',
    'onerror',
    'onload',
    'ONCLICK',
    'style=',
    'background',
    'javascript:',
    'java\tscript:',
    'http://x.example/',
    'data:image/png;base64,AA==',
    'url(',
    ')',
    'expression(',
    '@import',
    '\\',
    'alert(1)',
    'x',
  ];
  const TAG = /^<(\/?)([a-z0-9]+)((?: [a-z-]+="[^"<>]*")*)>/;

  it('always yields well-formed markup: only allowed tags, quoted escaped attributes, no handlers or script URLs', () => {
    for (let n = 0; n < 3000; n++) {
      let input = '';
      for (let k = rand(40) + 1; k > 0; k--) input += pieces[rand(pieces.length)];
      const { html } = sanitizeEmailHtml(input);
      // The leading <style> block holds sanitised CSS, which may not contain '<'.
      const body = html.replace(/^<style>[^<]*<\/style>/, '');
      expect(html.slice(0, html.length - body.length)).not.toMatch(/url\((?!"data:image)|@import/i);
      for (let i = body.indexOf('<'); i !== -1; i = body.indexOf('<', i + 1)) {
        const m = TAG.exec(body.slice(i));
        expect(m, `${JSON.stringify(input)} → ${JSON.stringify(html)}`).not.toBeNull();
        expect(['script', 'style', 'iframe', 'object', 'form', 'input', 'svg', 'math', 'textarea', 'title']).not.toContain(m![2]);
        expect(m![3]).not.toMatch(/ on[a-z]+=|javascript|expression|\\/i);
        // Links may point anywhere on the web; nothing may be loaded from it.
        expect(m![3]).not.toMatch(/ src="(?!data:image)| style="[^"]*url\((?!&quot;data:image)/);
      }
    }
  });
});
