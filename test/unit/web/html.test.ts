import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from '../../../src/web/views/html.js';
import { LoginLimiter } from '../../../src/web/auth/login-limiter.js';

describe('html escaping', () => {
  it('escapes every interpolated value, including quotes for attributes', () => {
    const evil = `"><script>alert('x')</script>&`;
    expect(html`<a title="${evil}">${evil}</a>`.value).toBe(
      '<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</a>',
    );
    expect(escapeHtml('`')).toBe('&#96;');
  });

  it('keeps nested html and arrays as markup, drops null/undefined/false', () => {
    // Aliased so that prettier does not reformat the template (it formats html`` as HTML).
    const h = html;
    const items = ['<a>', 'b'].map((x) => h`<li>${x}</li>`);
    expect(h`<ul>${items}</ul>${null}${undefined}${false}${raw('<hr>')}`.value).toBe('<ul><li>&lt;a&gt;</li><li>b</li></ul><hr>');
  });
});

describe('login limiter', () => {
  it('allows 5 attempts a minute per key, then says how long to wait', () => {
    const l = new LoginLimiter(5, 60_000);
    for (let i = 0; i < 5; i++) expect(l.attempt(['ip:a'], 1000 + i)).toBe(0);
    expect(l.attempt(['ip:a'], 2000)).toBe(59_000);
    expect(l.attempt(['ip:b'], 2000)).toBe(0);
    expect(l.attempt(['ip:a'], 61_001)).toBe(0);
  });

  it('locks unknown usernames after the same number of failures as real ones', () => {
    const l = new LoginLimiter();
    expect(l.phantomFailure('ghost', 3, 1000, 0)).toBeUndefined();
    expect(l.phantomFailure('ghost', 3, 1000, 1)).toBeUndefined();
    expect(l.phantomFailure('ghost', 3, 1000, 2)).toBe(1002);
    expect(l.phantomLockedUntil('ghost', 500)).toBe(1002);
    expect(l.phantomLockedUntil('ghost', 1003)).toBeUndefined();
  });
});
