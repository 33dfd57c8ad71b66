// Managing monitoring in a real browser: the Checks page's form shows the settings of the
// kind chosen; a network monitor added there is listed and, probed by the server, turns OK;
// a disk check is added with its thresholds; the maintenance and notifications tabs open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { shots, startSteward, launchBrowser, signInFirstTime } from './support.mjs';

let steward, browser;

before(async () => {
  steward = await startSteward();
  mkdirSync(shots, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await steward?.stop();
});

test('a check added on the Checks page is listed and judged', async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await signInFirstTime(page, steward.url, steward.password, 'a password of my own choosing');
  await page.goto(`${steward.url}/`);
  await Promise.all([page.waitForURL(/\/checks$/), page.click('nav.nav a:has-text("Checks")')]);
  // The default checks are there.
  assert.equal(await page.locator('#checks tr[data-check="Disk space"]').count(), 1);

  // Choosing a kind shows its settings only.
  const form = page.locator('#check-form');
  await form.locator('select[name=kind]').selectOption('http');
  assert.ok(await form.locator('input[name=url]').isVisible(), 'the address shows for HTTP');
  assert.ok(!(await form.locator('input[name=warn]').isVisible()), 'thresholds hide for HTTP');
  assert.ok(!(await form.locator('select[name=target]').isVisible()), 'a network monitor has no devices');

  // A network monitor of this server's own health endpoint.
  await form.locator('input[name=name]').fill('Steward health');
  await form.locator('input[name=url]').fill(`${steward.url}/api/v1/health`);
  await form.locator('input[name=expect_status]').fill('200');
  await form.locator('input[name=interval]').fill('5s');
  await form.locator('textarea[name=runbook]').fill('Restart **steward** <script>alert(1)</script>');
  await Promise.all([page.waitForURL(/\/checks\?done=created/), form.locator('button[type=submit]').click()]);
  assert.match(await page.textContent('.alert-info'), /Check “Steward health” created\./);
  const row = page.locator('#checks tr[data-check="Steward health"]');
  assert.equal(await row.count(), 1);
  assert.match(await row.textContent(), /HTTP\(S\)/);
  assert.match(await row.textContent(), /every 5s/);

  // The server probes it at once: OK within a few reloads.
  let state = '';
  for (let i = 0; i < 40 && state !== 'ok'; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 250));
    await page.goto(`${steward.url}/checks`);
    state = (await page.locator('#checks tr[data-check="Steward health"] .badge').last().textContent()).trim();
  }
  assert.equal(state, 'ok');

  // A device check: the thresholds show, the address hides; every device by default.
  await form.locator('select[name=kind]').selectOption('disk');
  assert.ok(await form.locator('input[name=mount]').isVisible());
  assert.ok(!(await form.locator('input[name=url]').isVisible()));
  assert.ok(!(await form.locator('input[name=tag]').isVisible()), 'the tag box waits for "a tag"');
  await form.locator('select[name=target]').selectOption('tag');
  assert.ok(await form.locator('input[name=tag]').isVisible());
  await form.locator('select[name=target]').selectOption('all');
  await form.locator('input[name=name]').fill('Data disk');
  await form.locator('input[name=mount]').fill('/srv');
  await form.locator('input[name=warn]').fill('80');
  await form.locator('input[name=critical]').fill('90');
  await form.locator('input[name=sustain]').fill('10m');
  await Promise.all([page.waitForURL(/\/checks\?done=created/), form.locator('button[type=submit]').click()]);
  const disk = page.locator('#checks tr[data-check="Data disk"]');
  assert.match(await disk.textContent(), /\/srv: warning at 80\.0 %, critical at 90\.0 %; for 10m/);
  assert.match(await disk.textContent(), /All devices/);
  await page.screenshot({ path: join(shots, 'checks.png'), fullPage: true });

  // Edit opens the form filled in.
  await Promise.all([page.waitForURL(/edit=/), disk.locator('a:has-text("Edit")').click()]);
  assert.equal(await form.locator('input[name=warn]').inputValue(), '80.0');
  assert.match(await form.locator('h2').textContent(), /Edit “Data disk”/);

  // This machine's page lists the checks judged for it, with their state.
  await page.goto(`${steward.url}/devices`);
  const link = page.locator(`a:has-text("${hostname()}")`).first();
  for (let i = 0; i < 40 && !(await link.count()); i++) {
    await page.waitForTimeout(250);
    await page.reload();
  }
  await Promise.all([page.waitForURL(/\/devices\/[0-9a-f-]{36}/), link.click()]);
  const device = page.url();
  let judged = 0;
  for (let i = 0; i < 40 && judged === 0; i++) {
    if (i > 0) { await new Promise((r) => setTimeout(r, 250)); await page.goto(device); }
    judged = await page.locator('#device-checks tr[data-check="Agent heartbeat"]').count();
  }
  assert.equal(judged, 1, 'the heartbeat check is on the device page');
  assert.match(await page.textContent('.section-nav'), /Checks/);
  await page.locator('#checks').screenshot({ path: join(shots, 'device-checks.png') });

  // The other tabs.
  await page.goto(`${steward.url}/checks`);
  await Promise.all([page.waitForURL(/\/maintenance$/), page.click('.page-tabs a:has-text("Maintenance")')]);
  await page.locator('#window-form input[value=weekly]').check();
  assert.ok(await page.locator('#window-form input[name=at]').isVisible());
  assert.ok(!(await page.locator('#window-form input[name=start]').isVisible()));
  await page.screenshot({ path: join(shots, 'maintenance.png'), fullPage: true });
  await Promise.all([page.waitForURL(/\/channels$/), page.click('.page-tabs a:has-text("Notifications")')]);
  await page.locator('#channel-form select[name=kind]').selectOption('email');
  assert.ok(await page.locator('#channel-form input[name=host]').isVisible());
  assert.ok(!(await page.locator('#channel-form input[name=url]').isVisible()));
  await page.screenshot({ path: join(shots, 'channels.png'), fullPage: true });
});
