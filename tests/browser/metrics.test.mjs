// Metrics charts and alerts in a real browser: a device reports a day of samples, its page
// draws the charts, and resting the pointer on a point shows its time and values; a device
// whose disk is full shows on the alerts page and is acknowledged there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bin, shots, startSteward, launchBrowser, signInFirstTime } from './support.mjs';

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

// Enrolls a device and sends a day of samples a minute apart (oldest first, 100 a
// delivery, as an agent drains its queue): CPU climbs from 0 to 90 % and back each hour.
async function enroll(hostname) {
  const token = execFileSync(bin, ['admin', 'enroll-token', 'create', '--data-dir', steward.dataDir],
    { env: { ...process.env, STEWARD_LOG: 'warn' } }).toString().trim().split('\n').pop().trim();
  const enrolled = await fetch(`${steward.url}/agent/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, hostname }),
  });
  assert.equal(enrolled.status, 200, await enrolled.clone().text());
  return enrolled.json();
}

async function deviceWithHistory() {
  const { device_id: id, credential } = await enroll('charted');
  const now = Date.now();
  const reports = Array.from({ length: 1440 }, (_, i) => {
    const minute = i % 60;
    return {
      seq: i + 1,
      collected_at: now - (1440 - i) * 60_000,
      metrics: {
        cpu_percent: minute < 30 ? minute * 3 : (60 - minute) * 3,
        memory_used_bytes: 3 * 2 ** 30, memory_total_bytes: 8 * 2 ** 30,
        swap_used_bytes: 2 ** 28, swap_total_bytes: 2 ** 30, load_1m: minute / 20, uptime_secs: 3600,
        filesystems: [{ mount_point: '/', total_bytes: 2 ** 40, used_bytes: 2 ** 39 }],
        disks: [{ device: 'nvme0n1', read_bytes_per_sec: 1024 * minute, write_bytes_per_sec: 4096 }],
        networks: [{ interface: 'eth0', rx_bytes_per_sec: 50_000, tx_bytes_per_sec: 2_000 }],
      },
    };
  });
  for (let i = 0; i < reports.length; i += 100) {
    const sent = await fetch(`${steward.url}/agent/v1/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
      body: JSON.stringify({ reports: reports.slice(i, i + 100) }),
    });
    assert.equal(sent.status, 200, await sent.clone().text());
  }
  return id;
}

test('the device page charts a device\'s metrics and shows values on hover', async () => {
  const id = await deviceWithHistory();
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await signInFirstTime(page, steward.url, steward.password, 'a password of my own choosing');
  await page.goto(`${steward.url}/devices/${id}#metrics`);
  for (const chart of ['cpu', 'memory', 'load', 'filesystems', 'disks', 'network']) {
    assert.equal(await page.locator(`#chart-${chart} svg.chart-svg`).count(), 1, `${chart} chart drawn`);
  }
  // The CPU line: one polyline through the day, 1,440 samples drawn as at most 180 points.
  const points = (await page.getAttribute('#chart-cpu polyline', 'points')).trim().split(' ');
  assert.ok(points.length >= 150 && points.length <= 180, `${points.length} points`);
  const columns = page.locator('#chart-cpu .chart-hover rect');
  assert.equal(await columns.count(), points.length);

  // Rest the pointer on a point: the readout names its time and value. (The chart is
  // brought to the middle of the window first, clear of the sticky header and menu.)
  const centre = (chart) => page.locator(chart).evaluate((e) => e.scrollIntoView({ block: 'center' }));
  await centre('#chart-cpu');
  const readout = page.locator('#chart-cpu .chart-readout');
  await columns.nth(100).hover();
  // Each point stands for a few minutes' samples: their average, and their peak.
  assert.match(await readout.textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d UTC · CPU \d+(\.\d)? % \(max \d+(\.\d)? %\)$/);
  assert.match(await columns.nth(100).getAttribute('class'), /active/);
  const first = await readout.textContent();
  await columns.nth(120).hover();
  assert.notEqual(await readout.textContent(), first, 'another point, another reading');
  // The disk chart reads in bytes per second, per disk and direction.
  await centre('#chart-disks');
  await page.locator('#chart-disks .chart-hover rect').nth(50).hover();
  assert.match(await page.locator('#chart-disks .chart-readout').textContent(), /nvme0n1 read [\d.]+ (B|KiB)\/s \(max [\d.]+ KiB\/s\) · nvme0n1 write 4\.0 KiB\/s/);
  await page.locator('#metrics').screenshot({ path: join(shots, 'metrics.png') });

  // Another range: the tab keeps the page, the chart follows.
  await Promise.all([page.waitForURL(/mr=7d/), page.click('.range-tabs a:has-text("7 d")')]);
  assert.equal(await page.locator('.range-tabs a[aria-current]').textContent(), '7 d');
  assert.equal(await page.locator('#chart-cpu svg.chart-svg').count(), 1);
  assert.match(await page.textContent('.chart-note'), /5 minutes/);

  // A device whose disk is full: the default disk check is critical at its first report,
  // and the alerts page shows it, worst first, to be acknowledged with a comment.
  const { credential } = await enroll('full-disk');
  const sent = await fetch(`${steward.url}/agent/v1/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
    body: JSON.stringify({ reports: [{ seq: 1, collected_at: Date.now(), metrics: {
      cpu_percent: 5, memory_used_bytes: 2 ** 30, memory_total_bytes: 8 * 2 ** 30, swap_used_bytes: 0,
      load_1m: 0.1, uptime_secs: 60,
      filesystems: [{ mount_point: '/srv', total_bytes: 100 * 2 ** 30, used_bytes: 99 * 2 ** 30 }],
    } }] }),
  });
  assert.equal(sent.status, 200, await sent.clone().text());
  await page.goto(`${steward.url}/`);
  assert.match(await page.textContent('#wrong-now'), /Disk space.*full-disk.*\/srv at 99 %/s);
  await page.goto(`${steward.url}/alerts`);
  const row = page.locator('#open-alerts tbody tr', { hasText: 'full-disk' });
  assert.equal(await row.count(), 1);
  assert.match(await row.locator('.badge').first().textContent(), /critical/);
  await row.locator('input[name=comment]').fill('clearing old logs');
  await Promise.all([page.waitForURL(/\/alerts$/), row.locator('button:has-text("Acknowledge")').click()]);
  const acknowledged = page.locator('#open-alerts tbody tr', { hasText: 'full-disk' });
  assert.match(await acknowledged.textContent(), /Acknowledged by admin: clearing old logs/);
  await page.screenshot({ path: join(shots, 'alerts.png'), fullPage: true });
});
