// Remote scripts and updates in a real browser: `steward up`'s own agent, whose agent.toml
// allows scripts, lists this machine's pending updates; an administrator adds a script with
// a parameter on the Scripts page, runs it on the device, follows the run to its result and
// reads the output on the device page; the Updates page shows the fleet's standing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { shots, startSteward, launchBrowser, signInFirstTime } from './support.mjs';

let steward, browser;

before(async () => {
  steward = await startSteward({ allowScripts: true });
  mkdirSync(shots, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await steward?.stop();
});

async function reloadUntil(page, check, what, tries = 120) {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await page.waitForTimeout(500);
    await page.reload();
  }
  assert.fail(`never: ${what}`);
}

test('a script is added, run on the device that allows it, and its output read', async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await signInFirstTime(page, steward.url, steward.password, 'a password of my own choosing');
  const nav = await page.locator('header.topbar').boundingBox();
  assert.ok(nav.height <= 60, `the top bar stays one line high: ${nav.height}`);
  await Promise.all([page.waitForURL(/\/scripts$/), page.click('nav.nav a:has-text("Scripts")')]);

  await page.fill('#script-form input[name=name]', 'Say a word');
  await page.fill('#script-form textarea[name=params]', 'word choice:hello|bye required');
  await page.fill('#script-form textarea[name=content]', 'echo "said $STEWARD_PARAM_WORD"\n');
  await Promise.all([page.waitForURL(/\/scripts\/.+done=created/), page.click('#script-form button[type=submit]')]);
  assert.match(await page.textContent('#script-content'), /STEWARD_PARAM_WORD/);
  assert.equal(await page.locator('#versions tbody tr').count(), 1);

  // The local device says it allows scripts once its agent has checked in.
  await reloadUntil(page, async () => /\(allows scripts\)/.test(await page.textContent('#run-form select[name=target]')),
    'the device is offered as allowing scripts');
  const option = await page.locator('#run-form select[name=target] option', { hasText: 'allows scripts' }).first().getAttribute('value');
  await page.selectOption('#run-form select[name=target]', option);
  await page.fill('#run-form input[name="param.word"]', 'hello');
  await Promise.all([page.waitForURL(/\/batches\//), page.click('#run-form button[type=submit]')]);
  await reloadUntil(page, async () => /1 succeeded/.test(await page.textContent('#batch-progress')), 'the run succeeded');
  assert.match(await page.textContent('#batch-jobs'), /exited with code 0/);
  await page.screenshot({ path: join(shots, 'batch.png'), fullPage: true });

  // The output is kept on the device's page.
  await Promise.all([page.waitForURL(/\/devices\//), page.click('#batch-jobs a')]);
  assert.match(await page.textContent('#scripts-allowed'), /Scripts allowed/);
  const run = page.locator('#jobs tr', { hasText: 'Run script' }).first();
  await run.locator('summary').click();
  assert.match(await run.locator('pre').textContent(), /said hello/);
});

test('the updates page shows the fleet and the device its packages', async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await page.goto(`${steward.url}/login`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', 'a password of my own choosing');
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
  await page.goto(`${steward.url}/updates`);
  for (const id of ['#missing-security', '#oldest-security', '#reboot-required']) {
    assert.ok(await page.locator(id).isVisible(), id);
  }
  // This machine's package manager is listed at the agent's start; the listing travels with
  // its next check-in (a minute apart under `steward up`).
  await reloadUntil(page, async () => !/never/.test(await page.textContent('#update-devices tbody')),
    'the local agent listed its updates', 300);
  await page.screenshot({ path: join(shots, 'updates.png'), fullPage: true });
  await Promise.all([page.waitForURL(/\/updates\/devices\//), page.click('#update-devices tbody a')]);
  assert.ok(await page.locator('#pending-updates').isVisible());
});
