// The longest strings an agent may send (1,024 characters in every text field, more items
// than a page shows in every list) cannot cripple a page: the device page, the device list
// and the dashboard each load in under a second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bin, shots, startSteward, launchBrowser, signInFirstTime } from './support.mjs';

const MAX = 1024; // steward_core::limits::MAX_TEXT_CHARS
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

// Texts of exactly the longest length: one unbroken word (the layout's worst case), words
// with spaces, and two-byte characters.
const word = (c) => c.repeat(MAX);
const words = (w) => `${w} `.repeat(Math.ceil(MAX / (w.length + 1))).slice(0, MAX);
const accented = 'é'.repeat(MAX);
const many = (n, f) => Array.from({ length: n }, (_, i) => f(i));
const tail = (i, s) => `${i}`.padStart(4, '0') + s.slice(4);

function longestInventory() {
  return {
    hostname: word('h'),
    os: { family: 'linux', name: words('Debian'), version: accented, kernel: word('k'), arch: word('a') },
    boot_time: Math.floor(Date.now() / 1000) - 3600,
    hardware: { cpu_model: words('Xeon'), cpu_cores: 64, memory_bytes: 2 ** 40, vendor: accented, model: word('M'), serial: word('S') },
    filesystems: many(60, (i) => ({ mount_point: tail(i, word('/')), device: word('d'), fs_type: word('f'), total_bytes: 2 ** 40 })),
    interfaces: many(60, (i) => ({ name: tail(i, word('e')), mac: word('m'), addresses: many(4, (j) => tail(j, word('1'))) })),
    packages: many(60, (i) => ({ name: tail(i, word('p')), version: words('1.0'), arch: word('x'), source: 'dpkg' })),
    accounts: many(60, (i) => ({ name: tail(i, word('u')), uid: 1000 + i, gid: 1000, home: word('/'), shell: word('s'), is_admin: i % 2 === 0, can_login: i % 3 !== 0 })),
    listeners: many(60, (i) => ({ protocol: 'tcp', address: word('0'), port: 1000 + i, process: words('daemon'), pid: 100 + i })),
  };
}

async function enrollWithLongestStrings() {
  const token = execFileSync(bin, ['admin', 'enroll-token', 'create', '--data-dir', steward.dataDir],
    { env: { ...process.env, STEWARD_LOG: 'warn' } }).toString().trim().split('\n').pop().trim();
  const enrolled = await fetch(`${steward.url}/agent/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, hostname: 'longest-strings' }),
  });
  assert.equal(enrolled.status, 200, await enrolled.clone().text());
  const { device_id: id, credential } = await enrolled.json();
  const report = {
    seq: 1,
    collected_at: Date.now(),
    metrics: {
      cpu_percent: 50, memory_used_bytes: 2 ** 39, memory_total_bytes: 2 ** 40, swap_used_bytes: 0, load_1m: 1, uptime_secs: 3600,
      filesystems: many(60, (i) => ({ mount_point: tail(i, word('/')), total_bytes: 2 ** 40, used_bytes: 2 ** 39 })),
    },
    inventory: { type: 'full', inventory: longestInventory() },
  };
  const sent = await fetch(`${steward.url}/agent/v1/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body: JSON.stringify({ reports: [report] }),
  });
  assert.equal(sent.status, 200, await sent.clone().text());
  return id;
}

// Median of three loads (the first also warms the server's caches).
async function loadTime(page, url) {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const resp = await page.goto(url, { waitUntil: 'load' });
    times.push(performance.now() - t0);
    assert.equal(resp.status(), 200, url);
  }
  times.sort((a, b) => a - b);
  return { median: times[1], times };
}

test('pages with the longest strings the limits allow load in under a second', async () => {
  const id = await enrollWithLongestStrings();
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await signInFirstTime(page, steward.url, steward.password, 'a password of my own choosing');
  for (const [label, path] of [['device page', `/devices/${id}`], ['device list', '/devices'], ['dashboard', '/']]) {
    const { median, times } = await loadTime(page, `${steward.url}${path}`);
    console.log(`${label}: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
    assert.ok(median < 1000, `${label} took ${median.toFixed(0)} ms`);
  }
  // Every list is paged: 60 items, 50 on the first page.
  await page.goto(`${steward.url}/devices/${id}`);
  for (const section of ['Disk pages', 'Network interface pages', 'Software pages', 'Account pages', 'Listening socket pages']) {
    assert.ok(await page.locator(`nav[aria-label="${section}"]`).count(), `${section} shown`);
  }
  await page.screenshot({ path: join(shots, 'device-longest-strings.png') });
});
