// The console in a real browser: `steward up` on a fresh data directory, sign in with the
// printed one-time password, find this machine on the dashboard and open its device page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { shots, startSteward, launchBrowser } from './support.mjs';

let steward, consoleUrl, password, browser;
let recoveryCodes = [];

// RFC 6238 (SHA-1, 6 digits, 30 s), as an authenticator app computes it, from the base32
// key the enrolment page shows.
function totp(base32, unixSecs) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSecs / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}

before(async () => {
  steward = await startSteward();
  ({ url: consoleUrl, password } = steward);
  mkdirSync(shots, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await steward?.stop();
});

test('sign in and open this machine\'s device page', async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await page.goto(`${consoleUrl}/devices`);
  // Not signed in: the login page, which comes back to /devices afterwards.
  await page.waitForURL(/\/login/);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await page.screenshot({ path: join(shots, 'login.png') });
  // The printed password is a one-time password: the console asks for one's own first,
  // and nothing else opens until then.
  await Promise.all([page.waitForURL(/\/account\/password/), page.click('button[type=submit]')]);
  await page.goto(`${consoleUrl}/devices`);
  await page.waitForURL(/\/account\/password/);
  assert.match(await page.textContent('body'), /set by someone else/);
  const own = 'a password of my own choosing';
  await page.fill('input[name=current]', password);
  await page.fill('input[name=new]', own);
  await page.fill('input[name=confirm]', own);
  await Promise.all([page.waitForURL(/\/account\/sessions/), page.click('form[action="/account/password"] button[type=submit]')]);
  password = own;
  await page.goto(`${consoleUrl}/devices`);

  // This machine enrolled itself; it shows up within seconds.
  const name = hostname();
  const link = page.locator(`a:has-text("${name}")`).first();
  for (let i = 0; i < 40 && !(await link.count()); i++) {
    await page.waitForTimeout(250);
    await page.reload();
  }
  await page.screenshot({ path: join(shots, 'devices.png') });
  assert.ok(await link.count(), `device ${name} is listed`);
  await Promise.all([page.waitForURL(/\/devices\/[0-9a-f-]{36}/), link.click()]);

  // The device page shows real inventory of this machine.
  const body = await page.textContent('body');
  assert.match(body, new RegExp(name));
  for (const section of ['Disks', 'Software', 'Accounts', 'Listening', 'Changes']) {
    assert.match(body, new RegExp(section), `section ${section}`);
  }
  assert.match(body, /root/, 'the root account is listed');
  await page.screenshot({ path: join(shots, 'device.png'), fullPage: true });

  await page.goto(`${consoleUrl}/`);
  await page.screenshot({ path: join(shots, 'dashboard.png') });
  // The user's own sessions, reached from the name in the top bar.
  await Promise.all([page.waitForURL(/\/account\/sessions/), page.click('a.user-name')]);
  assert.match(await page.textContent('body'), /this session/);
  await page.screenshot({ path: join(shots, 'sessions.png') });
  // Sign out ends the session: pages go back to the login.
  await Promise.all([page.waitForURL(/\/login/), page.click('form[action="/logout"] button')]);
  await page.goto(`${consoleUrl}/devices`);
  await page.waitForURL(/\/login/);
});

test('set up two-factor sign-in, then sign in with password and code', async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await page.goto(`${consoleUrl}/login`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);

  // Enrol: the QR code and the key as text; the app's first code turns it on.
  await page.goto(`${consoleUrl}/account/two-factor`);
  await Promise.all([page.waitForURL(/\/account\/two-factor/), page.click('form[action="/account/two-factor/setup"] button')]);
  assert.ok(await page.locator('.qr svg').count(), 'QR code drawn');
  const secret = (await page.textContent('#totp-secret')).trim();
  const now = Date.now() / 1000;
  await page.fill('input[name=code]', totp(secret, now));
  await page.click('form[action="/account/two-factor/confirm"] button');
  await page.waitForSelector('#recovery-codes');
  const codes = await page.locator('#recovery-codes li').allTextContents();
  assert.equal(codes.length, 10, 'ten recovery codes');
  recoveryCodes = codes.map((c) => c.trim());
  await page.screenshot({ path: join(shots, 'two-factor.png'), fullPage: true });
  await Promise.all([page.waitForURL(/\/login/), page.click('form[action="/logout"] button')]);

  // Sign in: the password, then the code of the next time step (the first one is spent).
  await page.goto(`${consoleUrl}/account/sessions`);
  await page.waitForURL(/\/login/);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(/\/login\/code/), page.click('button[type=submit]')]);
  await page.screenshot({ path: join(shots, 'login-code.png') });
  await page.fill('input[name=code]', totp(secret, now + 30));
  await Promise.all([page.waitForURL(/\/account\/sessions/), page.click('button[type=submit]')]);
  assert.match(await page.textContent('body'), /this session/);
  await Promise.all([page.waitForURL(/\/login/), page.click('form[action="/logout"] button')]);
  await page.goto(`${consoleUrl}/account/sessions`);
  await page.waitForURL(/\/login/);
});

test('an administrator signs in with a recovery code, adds a group and a user', async () => {
  assert.ok(recoveryCodes.length, 'the previous test set up two-factor sign-in');
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await page.goto(`${consoleUrl}/login`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(/\/login\/code/), page.click('button[type=submit]')]);
  await page.fill('input[name=code]', recoveryCodes[0]);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);

  await page.goto(`${consoleUrl}/groups`);
  await page.fill('input[name=name]', 'Shop floor');
  await Promise.all([page.waitForURL(/\/groups$/), page.click('form[action="/groups"] button')]);
  assert.match(await page.textContent('body'), /Shop floor/);

  await page.goto(`${consoleUrl}/users`);
  await page.fill('#create-user input[name=username]', 'shoptech');
  await page.selectOption('#create-user select[name=role]', 'technician');
  await page.check('#create-user input[name=group]');
  await page.click('#create-user button');
  await page.waitForSelector('#new-password');
  assert.match(await page.textContent('#new-password'), /^\w{5}-\w{5}-\w{5}-\w{5}$/);
  assert.ok(await page.locator('tr[data-user="shoptech"]').count(), 'listed');
  await page.screenshot({ path: join(shots, 'users.png'), fullPage: true });

  // An API token for a dashboard: shown once, listed with its role, revoked.
  await page.goto(`${consoleUrl}/tokens`);
  await page.fill('#create-token input[name=name]', 'wallboard');
  await page.click('#create-token button');
  await page.waitForSelector('#new-token');
  assert.match(await page.textContent('#new-token'), /stw_api_/);
  assert.ok(await page.locator('tr[data-token="wallboard"]').count(), 'listed');
  await page.screenshot({ path: join(shots, 'tokens.png'), fullPage: true });
  await Promise.all([page.waitForURL(/\/tokens$/), page.click('tr[data-token="wallboard"] button')]);
  assert.match(await page.textContent('tr[data-token="wallboard"]'), /revoked/);

  await page.goto(`${consoleUrl}/audit`);
  const audit = await page.textContent('body');
  for (const action of ['user_created', 'group_created', 'two_factor_enabled', 'sign_in', 'api_token_revoked']) {
    assert.match(audit, new RegExp(action), `${action} in the audit log`);
  }
  await page.screenshot({ path: join(shots, 'audit.png'), fullPage: true });
});
