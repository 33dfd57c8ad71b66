// What the browser tests share: a `steward up` of their own, and a headless Chromium.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const bin = process.env.STEWARD_BIN ?? new URL('../../target/debug/steward', import.meta.url).pathname;
export const shots = new URL('../../target/browser/', import.meta.url).pathname;

// Starts `steward up` on a fresh data directory; resolves once it has printed the console
// address and the first administrator's one-time password.
// `allowScripts`: the local agent's own agent.toml allows scripts, as `steward agent enroll
// --allow-scripts` would write it on a device.
export function startSteward({ allowScripts = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-browser-'));
  if (allowScripts) {
    mkdirSync(join(dataDir, 'agent'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'agent', 'agent.toml'), 'allow_scripts = true\n');
  }
  const server = spawn(bin, ['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Detection would watch and place canaries in this machine's own folders.
    env: { ...process.env, STEWARD_LOG: 'warn', STEWARD_NO_DETECTION: '1' },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`steward up did not start:\n${out}`)), 60_000);
    server.stderr.on('data', (d) => { out += d; });
    server.stdout.on('data', (d) => {
      out += d;
      const url = out.match(/Console:\s+(http:\/\/\S+)/);
      const pw = out.match(/password:\s+(\S+)/);
      if (url && pw) {
        clearTimeout(timer);
        resolve({
          url: url[1].replace(/\/$/, ''),
          password: pw[1],
          dataDir,
          // Stops it and removes its data once it has exited: a stopping agent still
          // writes its last report ("stopping") into the data directory.
          async stop() {
            const exited = server.exitCode !== null
              ? Promise.resolve()
              : new Promise((done) => server.once('exit', done));
            server.kill('SIGTERM');
            await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
            rmSync(dataDir, { recursive: true, force: true });
          },
        });
      }
    });
    server.on('exit', (code) => reject(new Error(`steward up exited with ${code}:\n${out}`)));
  });
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// Signs in as `admin` with the one-time password and replaces it with `own` (the console
// opens nothing else until then).
export async function signInFirstTime(page, consoleUrl, oneTime, own) {
  await page.goto(`${consoleUrl}/login`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', oneTime);
  await Promise.all([page.waitForURL(/\/account\/password/), page.click('button[type=submit]')]);
  await page.fill('input[name=current]', oneTime);
  await page.fill('input[name=new]', own);
  await page.fill('input[name=confirm]', own);
  await Promise.all([page.waitForURL(/\/account\/sessions/), page.click('form[action="/account/password"] button[type=submit]')]);
}
