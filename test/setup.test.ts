// scripts/setup.sh: idempotent, quiet when all is there, and clear when it cannot install.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const setup = join(root, 'scripts/setup.sh');

function run(env: Record<string, string> = {}, args: string[] = []) {
  const r = spawnSync('bash', [setup, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('scripts/setup.sh', () => {
  it('does nothing, quietly, when run twice on a set-up machine', () => {
    const first = run();
    expect(first.code, first.out).toBe(0);
    const second = run();
    expect(second.code, second.out).toBe(0);
    expect(second.out).not.toMatch(/setup:/);
    const browser = run({}, ['--browser']); // npm test's form: Chromium is there by now
    expect(browser.code, browser.out).toBe(0);
    expect(browser.out).not.toMatch(/setup:/);
  });

  it('explains what to install when Chromium is missing and it cannot install', () => {
    const r = run({ CHROMIUM_PATH: '/nonexistent/chromium', SETUP_AS_USER: '1', SETUP_SKIP_NPM: '1' }, ['--browser']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/apt-get install chromium/);
  });

  it('rejects unknown options', () => {
    const r = run({ SETUP_SKIP_NPM: '1' }, ['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/unknown option --frobnicate/);
  });

  it('installs the CPU driver once when no adapter is found, and nothing on the second run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'setup-test-'));
    const log = join(dir, 'apt.log');
    const installed = join(dir, 'installed');
    // A fake apt-get that records its calls and "installs" by creating a marker file.
    const fakeApt = join(dir, 'apt-get');
    writeFileSync(fakeApt, `#!/usr/bin/env bash\necho "$*" >> ${log}\n[ "$1" = install ] || [[ "$*" == *" install "* ]] && touch ${installed}\nexit 0\n`);
    chmodSync(fakeApt, 0o755);
    const env = { SETUP_APT_GET: fakeApt, SETUP_PROBE_CMD: `test -f ${installed}`, SETUP_SKIP_NPM: '1' };
    const first = run(env);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/installing Mesa's lavapipe/);
    const calls = readFileSync(log, 'utf8');
    expect(calls).toMatch(/update/);
    expect(calls).toMatch(/install .*-t bookworm-backports mesa-vulkan-drivers libvulkan1/);
    const second = run(env);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toBe('');
    expect(readFileSync(log, 'utf8')).toBe(calls); // no new apt-get call
    expect(existsSync(installed)).toBe(true);
  });

  it('says what to install by hand when it is not root', () => {
    const r = run({ SETUP_PROBE_CMD: 'false', SETUP_AS_USER: '1', SETUP_SKIP_NPM: '1' });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/needs root/);
    expect(r.out).toMatch(/mesa-vulkan-drivers/);
    expect(r.out).toMatch(/bookworm-backports/);
  });

  it('says what to install by hand when there is no apt-get', () => {
    const r = run({ SETUP_PROBE_CMD: 'false', SETUP_APT_GET: '/nonexistent/apt-get', SETUP_SKIP_NPM: '1' });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/apt-get is not available/);
    expect(r.out).toMatch(/libvulkan1/);
  });
});
