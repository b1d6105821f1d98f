import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/observability/metrics.js';
import { VERSION } from '../../../src/version.js';

const deploy = (p: string) => new URL(`../../../deploy/${p}`, import.meta.url).pathname;

/** Every metric our processes export, with the series suffixes Prometheus adds for histograms/counters. */
async function exportedNames(): Promise<Set<string>> {
  const m = createMetrics({ store: undefined });
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  // Store-derived gauges (registered only with a store) — listed from the source so a rename breaks this test.
  const src = readFileSync(new URL('../../../src/observability/metrics.ts', import.meta.url), 'utf8');
  for (const match of src.matchAll(/name: '(mail_helper_\w+)'/g)) names.add(match[1]);
  return names;
}

function referencedMetrics(text: string): string[] {
  return [...new Set([...text.matchAll(/\bmail_helper_[a-z_]+\b/g)].map((m) => m[0]))];
}

describe('deploy files', () => {
  it('the alert rules load in promtool', () => {
    const r = spawnSync('promtool', ['check', 'rules', deploy('prometheus/alert-rules.yml')], { encoding: 'utf8' });
    if (r.error) throw new Error('promtool is missing: install Debian package prometheus (.ci/run does)');
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: 5 rules found/);
    expect(r.status).toBe(0);
  });

  it('the Prometheus scrape config is valid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mh-prom-'));
    // credentials_file must exist for promtool; point it at a temporary token file.
    const conf = readFileSync(deploy('prometheus/prometheus.yml'), 'utf8').replaceAll(
      '/etc/prometheus/mail-helper-metrics-token',
      join(dir, 'token'),
    );
    writeFileSync(join(dir, 'token'), 'x'.repeat(40));
    writeFileSync(join(dir, 'prometheus.yml'), conf.replace('alert-rules.yml', deploy('prometheus/alert-rules.yml')));
    const r = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it('alert rules and the Grafana dashboard use only metrics we export', async () => {
    const names = await exportedNames();
    const rules = readFileSync(deploy('prometheus/alert-rules.yml'), 'utf8');
    const dashboard = JSON.parse(readFileSync(deploy('grafana/mail-helper-dashboard.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    const unknown = [...referencedMetrics(rules), ...referencedMetrics(exprs)].filter((n) => !names.has(n));
    expect(unknown).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
  });

  it('every way of starting the app runs Node with the same production flags and environment, the installed command too', () => {
    const flags = '--max-semi-space-size=8 --no-use-osr --single-threaded-gc --max-inlined-bytecode-size-cumulative=150';
    const env = 'MALLOC_ARENA_MAX=2 GLIBC_TUNABLES=glibc.malloc.hugetlb=1';
    const main = new URL('../../../dist/cli/main.js', import.meta.url).pathname;
    expect(readFileSync(main, 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S ${env} node ${flags}`);
    for (const unit of ['mail-helper-web.service', 'mail-helper-worker@.service']) {
      const text = readFileSync(deploy(`systemd/${unit}`), 'utf8');
      expect(text).toMatch(new RegExp(`^ExecStart=/usr/bin/node ${flags} `, 'm'));
      expect(text).toMatch(new RegExp(`^Environment=${env}$`, 'm'));
    }
    const dockerfile = readFileSync(deploy('Dockerfile'), 'utf8');
    const entrypoint = ['node', ...flags.split(' '), 'dist/cli/main.js'].map((w) => `"${w}"`).join(', ');
    expect(dockerfile).toContain(`ENTRYPOINT [${entrypoint}]`);
    expect(dockerfile).toMatch(new RegExp(`^ENV .*\\b${env}\\b`, 'm'));
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
    expect(pkg.scripts.start).toContain(`${env} node ${flags} dist/cli/main.js`);
    // The kernel runs the file through its first line, as npm's bin link does.
    chmodSync(main, 0o755);
    const r = spawnSync(main, ['--version'], { encoding: 'utf8' });
    expect([r.status, r.stdout.trim()]).toEqual([0, VERSION]);
  });

  it('the systemd units pass systemd-analyze verify', () => {
    for (const unit of ['mail-helper-web.service', 'mail-helper-worker@.service']) {
      const text = readFileSync(deploy(`systemd/${unit}`), 'utf8');
      expect(text).toMatch(/^Restart=always$/m);
      expect(text).toMatch(/^ProtectSystem=strict$/m);
      expect(text).toMatch(/^NoNewPrivileges=yes$/m);
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', deploy(`systemd/${unit}`).replace('@.service', '@1.service')], {
        encoding: 'utf8',
      });
      if (r.error) continue; // systemd-analyze is optional; the content checks above still ran
      // Only complaints about the unit's syntax count; a missing /usr/bin/node or user on the test box does not.
      const problems = (r.stderr ?? '').split('\n').filter((l) => /Unknown (key|section)|Failed to parse|Invalid/i.test(l));
      expect(problems).toEqual([]);
    }
  });
});
