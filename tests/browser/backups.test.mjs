// Backups in a real browser: an agent process (`steward agent run`, whose backup worker is
// the same binary) beside `steward up`; "Back up now" on its device page backs a folder up,
// the snapshot appears, its page browses into a folder, one file is restored through the
// form into another folder, and the file is there on disk with its content. The fleet page
// and the repository password are opened on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, shots, startSteward, launchBrowser, signInFirstTime } from './support.mjs';

let steward, browser, agent, work;

before(async () => {
  steward = await startSteward();
  mkdirSync(shots, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'steward-backups-'));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  agent?.kill('SIGTERM');
  await steward?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

// Enrolls an agent in its own state directory and starts `steward agent run` (checking in
// every second); resolves with its device id once it says it can run backup jobs.
async function startAgent() {
  // Detection off, as in support.mjs: with no policy of its own the agent would watch and
  // place canary files in /home, /root, /srv and /var/www, and they would outlive its
  // state directory (which records them).
  const env = { ...process.env, STEWARD_LOG: 'info', STEWARD_NO_DETECTION: '1' };
  const token = execFileSync(bin, ['admin', 'enroll-token', 'create', '--data-dir', steward.dataDir],
    { env: { ...env, STEWARD_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n').pop().trim();
  const stateDir = join(work, 'agent');
  execFileSync(bin, ['agent', 'enroll', '--server', steward.url, '--state-dir', stateDir],
    { env: { ...env, STEWARD_ENROLL_TOKEN: token }, stdio: 'pipe' });
  const { device_id: id } = JSON.parse(readFileSync(join(stateDir, 'agent.json'), 'utf8'));
  agent = spawn(bin, ['agent', 'run', '--state-dir', stateDir, '--interval', '1'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the agent did not start:\n${out}`)), 30_000);
    const seen = (d) => {
      out += d;
      if (/job executors registered/.test(out)) { clearTimeout(timer); resolve(); }
    };
    agent.stdout.on('data', seen);
    agent.stderr.on('data', seen);
    agent.on('exit', (code) => reject(new Error(`the agent exited with ${code}:\n${out}`)));
  });
  assert.match(out, /backup/, 'the agent runs backup jobs');
  return id;
}

// Reloads `url` until `selector` is on the page (a job's result arriving).
async function waitFor(page, url, selector, what) {
  for (let i = 0; i < 240; i++) {
    if (await page.locator(selector).count()) return;
    await page.waitForTimeout(500);
    await page.goto(url);
  }
  assert.fail(`${what} did not appear`);
}

test('back up a folder, browse the snapshot and restore one file through the form', async () => {
  const source = join(work, 'share');
  mkdirSync(join(source, 'docs'), { recursive: true });
  writeFileSync(join(source, 'docs', 'letter.txt'), 'Dear customer,\nyour order has shipped.\n');
  writeFileSync(join(source, 'docs', 'invoice.csv'), 'sku,qty\nboot-42,120\n');
  writeFileSync(join(source, 'readme.txt'), 'the shop share\n');
  const id = await startAgent();

  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await signInFirstTime(page, steward.url, steward.password, 'a password of my own choosing');
  // The navigation stays on one line with the Backups link.
  const nav = await page.locator('header.topbar').boundingBox();
  assert.ok(nav.height <= 60, `the top bar is one line high: ${nav.height}`);
  const device = `${steward.url}/devices/${id}`;
  await page.goto(`${device}#backups`);
  const section = page.locator('#backups');
  assert.match(await section.textContent(), /No backup of this device yet/);

  // Back up now: the folder typed, no policy needed.
  await section.locator('textarea[name=paths]').fill(source);
  await Promise.all([page.waitForURL(/done=backup/), section.locator('button:has-text("Back up now")').click()]);
  assert.match(await page.textContent('#backup-flash'), /Backup queued/);
  await waitFor(page, device, '#snapshots tbody tr', 'the snapshot');
  const facts = await page.textContent('#backup-facts');
  assert.match(facts, /Last backup/);
  assert.match(facts, /Deduplication/);
  assert.match(facts, /Last proven restore\s*never/);
  await page.locator('#backups').screenshot({ path: join(shots, 'device-backups.png') });

  // The snapshot's page: from its root down to the share, folder by folder.
  await Promise.all([page.waitForURL(/\/backups\/[0-9a-f]{64}$/), page.locator('#snapshots tbody tr a').first().click()]);
  for (const part of source.split('/').filter(Boolean)) {
    const link = page.locator(`#file-table tr[data-name="${part}"][data-kind="folder"] a`);
    assert.equal(await link.count(), 1, `folder ${part} is listed`);
    await Promise.all([page.waitForURL(/path=/), link.click()]);
  }
  assert.equal(await page.locator('#file-table tr[data-name="readme.txt"]').count(), 1);
  assert.match(await page.textContent('#files .card-head'), /\d+ entr(y|ies)/);
  await Promise.all([page.waitForURL(/path=/), page.click('#file-table tr[data-name="docs"] a')]);
  assert.match(await page.textContent('#folder'), /share\/docs$/);
  const letter = page.locator('#file-table tr[data-name="letter.txt"]');
  assert.match(await letter.textContent(), /\d+ B/);
  assert.match(await letter.textContent(), /0644/);
  await page.screenshot({ path: join(shots, 'snapshot.png'), fullPage: true });

  // Restore letter.txt into another folder of the same device.
  const target = join(work, 'restored');
  await letter.locator('input[type=checkbox]').check();
  await page.selectOption('#restore select[name=target_device]', id);
  await page.fill('#restore input[name=target_path]', target);
  await Promise.all([page.waitForURL(/done=restore/), page.click('#restore button[type=submit]')]);
  assert.match(await page.textContent('#backup-flash'), /Restore queued/);
  const restored = join(target, source, 'docs', 'letter.txt');
  for (let i = 0; i < 240 && !existsSync(restored); i++) await new Promise((r) => setTimeout(r, 500));
  assert.equal(readFileSync(restored, 'utf8'), 'Dear customer,\nyour order has shipped.\n');
  assert.ok(!existsSync(join(target, source, 'docs', 'invoice.csv')), 'only the file ticked');

  // The fleet page, from the navigation.
  await Promise.all([page.waitForURL(/\/backups$/), page.click('nav.nav a:has-text("Backups")')]);
  const totals = await page.textContent('#backup-totals');
  assert.match(totals, /Backed up\s*1/);
  assert.match(await page.textContent('#fleet-backups'), /just now|s ago|min ago/);
  await page.screenshot({ path: join(shots, 'backups.png'), fullPage: true });

  // The repository password: an administrator who just signed in sees it at once.
  await page.goto(`${device}#backups`);
  await Promise.all([page.waitForURL(/backup-password$/), page.click('#backups button:has-text("Show repository password")')]);
  assert.ok((await page.textContent('#password')).trim().length >= 20);
  assert.equal((await page.textContent('#restic-command')).trim(),
    `restic -r ${join(steward.dataDir, 'backups', id)} snapshots`);
});
