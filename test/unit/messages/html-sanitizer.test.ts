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
