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
// `dataDir`: starts again on the data directory of an earlier `steward up` (stopped with
// `keepData`) instead of a fresh one: its administrator exists, so no one-time password is
// printed (`password` is null), and `listen` should be the earlier address (`host`), since
// the local agent enrolled with it.
// `detection`: the local agent watches for ransomware. Its policy must be in place first
// (`<dataDir>/agent/detection-policy.json`): without one the agent protects /home, /root,
// /srv and /var/www and places canary files in them.
export function startSteward({ allowScripts = false, dataDir: reuse, listen = '127.0.0.1:0', detection = false } = {}) {
  const dataDir = reuse ?? mkdtempSync(join(tmpdir(), 'steward-browser-'));
  if (allowScripts) {
    mkdirSync(join(dataDir, 'agent'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'agent', 'agent.toml'), 'allow_scripts = true\n');
  }
  const env = { ...process.env, STEWARD_LOG: 'warn', STEWARD_NO_DETECTION: '1' };
  // Detection would watch and place canaries in this machine's own folders.
  if (detection) delete env.STEWARD_NO_DETECTION;
  const server = spawn(bin, ['up', '--data-dir', dataDir, '--listen', listen], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.kill('SIGTERM');
      reject(new Error(`steward up did not start:\n${out}`));
    }, 60_000);
    server.stderr.on('data', (d) => { out += d; });
    server.stdout.on('data', (d) => {
      out += d;
      const url = out.match(/Console:\s+(http:\/\/\S+)/);
      // The one-time password is printed before the console's address, or not at all.
      const pw = out.match(/password:\s+(\S+)/);
      if (url && (pw || reuse)) {
        clearTimeout(timer);
        const consoleUrl = url[1].replace(/\/$/, '');
        resolve({
          url: consoleUrl,
          host: new URL(consoleUrl).host,
          password: pw ? pw[1] : null,
          dataDir,
          // What it printed and logged so far (warnings and errors).
          output: () => out,
          // Stops it and, unless `keepData`, removes its data once it has exited: a stopping
          // agent still writes its last report ("stopping") into the data directory.
          async stop({ keepData = false } = {}) {
            const exited = server.exitCode !== null || server.signalCode !== null
              ? Promise.resolve()
              : new Promise((done) => server.once('exit', done));
            server.kill('SIGTERM');
            let wait;
            const waited = await Promise.race([exited.then(() => true),
              new Promise((done) => { wait = setTimeout(() => done(false), keepData ? 30_000 : 10_000); })]);
            clearTimeout(wait);
            if (keepData && !waited) throw new Error(`steward up did not stop within 30 s:\n${out}`);
            if (!keepData) rmSync(dataDir, { recursive: true, force: true });
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
