// The web console in a real browser: Debian's Chromium driven by
// playwright-core against the real tokend on a fresh SQLite store. Every
// control is found by its accessible name (contract section 9), and after
// every action the API underneath is asked what really happened.
//
// Run through scripts/console-test.sh, which installs playwright-core and
// sets TOKEND_BINARY, TOKEND_CHROMIUM and TOKEND_CONSOLE_MODULES.
// TOKEND_CONSOLE_SCREENSHOTS=<folder> also writes the screenshots that
// docs/ keeps.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const require = createRequire(path.join(process.env.TOKEND_CONSOLE_MODULES ?? '.', 'index.js'));
const { chromium } = require('playwright-core');

const TOKEND = process.env.TOKEND_BINARY;
const CHROMIUM = process.env.TOKEND_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.TOKEND_CONSOLE_SCREENSHOTS;
const HOSTILE = '<img src=x onerror=alert(1)>';
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const DAY = 86400000;

let work;
let server;
let base;
let admin;
let browser;
let context;
let page;
const requests = [];
const dialogs = [];
const pageErrors = [];
const secrets = new Set();

// ---- tokend ----------------------------------------------------------------

async function startTokend() {
  work = mkdtempSync(path.join(tmpdir(), 'tokend-console-'));
  const data = path.join(work, 'data');
  mkdirSync(data, { mode: 0o700 });
  let log = '';
  server = spawn(TOKEND, [
    'serve', '--listen', '127.0.0.1:0', '--store', `sqlite:${data}/tokend.db`,
    '--max-lifetime', 'team=90d', '--default-lifetime', 'team=30d',
    '--last-used-resolution', '1',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr.on('data', (chunk) => { log += chunk; });
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const port = /tokend listening on [^ ]*:(\d+)/.exec(log)?.[1];
    const tokenFile = path.join(data, 'bootstrap-token');
    if (port && existsSync(tokenFile) && readFileSync(tokenFile, 'utf8').trim()) {
      base = `http://127.0.0.1:${port}`;
      admin = readFileSync(tokenFile, 'utf8').trim();
      secrets.add(admin);
      return;
    }
    if (server.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`tokend did not start:\n${log}`);
}

// The API underneath, as the admin (or `secret`).
async function apiCall(method, route, { body, secret = admin } = {}) {
  const headers = { Authorization: `Bearer ${secret}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(base + route, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function createViaApi(request) {
  const answer = await apiCall('POST', '/api/v2/token', { body: request });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  secrets.add(answer.body.token);
  return answer.body;
}

async function findByName(name) {
  const answer = await apiCall('GET', '/api/v2/token/query?limit=1000');
  assert.equal(answer.status, 200);
  return answer.body.content.filter((t) => t.name === name);
}

// A response date as the console writes it: "2026-03-01 05:00 UTC".
function formatUtc(date) {
  return `${new Date(date).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

// ---- the browser -------------------------------------------------------------

async function screenshot(name) {
  if (!SHOTS) return;
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, `console-${name}.png`) });
}

// The secret must be nowhere the page keeps things: DOM, URL, storage,
// cookies.
async function assertSecretGone(secret) {
  assert.ok(!page.url().includes(secret), 'secret in the URL');
  assert.ok(!(await page.content()).includes(secret), 'secret in the DOM');
  const stored = await page.evaluate(() => {
    const values = [];
    for (const storage of [localStorage, sessionStorage]) {
      for (let i = 0; i < storage.length; i += 1) values.push(storage.getItem(storage.key(i)));
    }
    const inputs = [...document.querySelectorAll('input, textarea')].map((e) => e.value);
    return { values, inputs, cookie: document.cookie };
  });
  assert.ok(!stored.values.some((v) => v.includes(secret)), 'secret in web storage');
  assert.ok(!stored.inputs.some((v) => v.includes(secret)), 'secret in a form field');
  assert.ok(!stored.cookie.includes(secret), 'secret in a cookie');
  const cookies = await context.cookies();
  assert.ok(!cookies.some((c) => c.value.includes(secret)), 'secret in a cookie');
}

async function signIn(secret) {
  await page.getByLabel('Token').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const alertBox = () => page.getByRole('alert');

async function tableRows() {
  return page.getByRole('table').getByRole('row').count();
}

// The summary under the table: "Page 1 of 2 · 25 tokens".
async function pagerText() {
  return page.getByRole('navigation', { name: 'Pages' }).innerText();
}

// Waits until the list says it holds `count` tokens.
async function waitTotal(count) {
  await page.waitForFunction(
    (n) => new RegExp(`· ${n} tokens?\\b`).test(document.querySelector('nav.pager')?.innerText ?? ''),
    count);
}

// Until the store holds a use of `secret`'s token (what the list filters
// on), which the server writes every --last-used-resolution seconds.
async function waitStoredUse(secret) {
  const self = await apiCall('GET', '/api/v2/token/self', { secret });
  assert.equal(self.status, 200);
  const deadline = Date.now() + 10000;
  for (;;) {
    const stored = await apiCall('GET', `/api/v2/token/${self.body.id}`);
    assert.equal(stored.status, 200);
    if (stored.body.lastUsedDate != null) return;
    assert.ok(Date.now() < deadline, 'the use was not stored within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// How many tokens the admin sees for a query string.
async function total(query = '') {
  const answer = await apiCall('GET', `/api/v2/token/query?limit=1${query}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.totalElements;
}

before(async () => {
  assert.ok(TOKEND, 'TOKEND_BINARY is not set');
  await startTokend();
  // launch() starts Chromium with a fresh temporary profile of its own.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('request', (request) => requests.push({ method: request.method(), url: request.url(), headers: request.headers() }));
  // Script errors fail the run at the end; they are printed as they come.
  page.on('pageerror', (error) => {
    pageErrors.push(error.message);
    console.error(`page error: ${error.message}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`console: ${message.text()}`);
  });
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

// ---- the flow --------------------------------------------------------------

test('the console', async (t) => {
  await t.test('files carry the security headers; /console redirects', async () => {
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.ok([301, 308].includes(redirect.status));
    assert.equal(redirect.headers.get('location'), '/console/');
    for (const file of ['', 'app.js', 'api.js', 'dom.js', 'format.js', 'console.css']) {
      const answer = await fetch(`${base}/console/${file}`);
      assert.equal(answer.status, 200, file);
      assert.equal(answer.headers.get('content-security-policy'), CSP, file);
      assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', file);
      assert.equal(answer.headers.get('referrer-policy'), 'no-referrer', file);
      assert.match(answer.headers.get('content-type'), /charset=utf-8/, file);
      const text = await answer.text();
      assert.ok(!/style=|<style|<script>|innerHTML|insertAdjacentHTML|eval\(/.test(text), `inline code or HTML parsing in ${file}`);
    }
    assert.equal((await fetch(`${base}/console/..%2fCMakeLists.txt`)).status, 404);
  });

  // Seed: enough tokens for two pages, and tokens in every state.
  await t.test('seed tokens through the API', async () => {
    for (let i = 1; i <= 24; i += 1) {
      await createViaApi({ type: 'workflow', name: `build step ${String(i).padStart(2, '0')}`, principal: 'wf-build', permissions: ['workflowrun/read'] });
    }
    await createViaApi({ type: 'team', name: 'grafana reader', principal: 'observability', role: 'reader', expirationDate: Date.now() + 60 * DAY });
    await createViaApi({ type: 'user', name: 'laptop cli', principal: 'alice', expirationDate: Date.now() + 3 * DAY });
    await createViaApi({ type: 'global', name: 'release bot', role: 'operator' });
  });

  await t.test('sign-in: a wrong token is refused in an alert, the admin gets in', async () => {
    await page.goto(`${base}/console`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await signIn('not-a-token');
    await assert.doesNotReject(alertBox().waitFor());
    assert.match(await alertBox().innerText(), /not accepted/i);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    // Keyboard only: the field has focus, Enter submits.
    await page.getByLabel('Token').focus();
    await page.keyboard.type(admin);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Create token' }).waitFor();
    await page.getByRole('table').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.equal((await context.cookies()).length, 0);
    await waitTotal(await total());
    assert.match(await pagerText(), /Page 1 of 2/);
  });

  let created;
  await t.test('create: policy-bounded expiry, permission grid, secret shown once', async () => {
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByLabel('Type').selectOption('team');
    await page.getByLabel('Name').fill('deploy bot');
    await page.getByLabel('Principal').fill('team-a');
    await page.getByLabel('Description').fill('Deploys from CI');
    const expires = page.getByLabel('Expires');
    const max = await expires.getAttribute('max');
    const latest = new Date(Date.now() + 90 * DAY).toISOString().slice(0, 10);
    assert.equal(max, latest, 'the Expires picker stops at the policy maximum');
    const day = new Date(Date.now() + 20 * DAY).toISOString().slice(0, 10);
    await expires.fill(day);
    await page.getByRole('checkbox', { name: 'workflow/read' }).check();
    await page.getByRole('checkbox', { name: 'workflowrun/action' }).check();
    await screenshot('create');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const secretField = page.getByLabel('Secret');
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    assert.ok(secret.length > 20);
    secrets.add(secret);
    assert.equal(await secretField.getAttribute('readonly'), '');
    await page.getByRole('button', { name: 'Copy' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await screenshot('secret');

    const [token] = await findByName('deploy bot');
    assert.ok(token, 'the token exists');
    assert.equal(token.type, 'team');
    assert.equal(token.principal, 'team-a');
    assert.equal(token.description, 'Deploys from CI');
    assert.deepEqual(token.permissions[0].actions.sort(), ['workflow/read', 'workflowrun/action']);
    assert.equal(new Date(token.expirationDate).getTime(), Date.parse(`${day}T00:00:00Z`));
    const self = await apiCall('GET', '/api/v2/token/self', { secret });
    assert.equal(self.status, 200, 'the secret shown works');
    assert.equal(self.body.id, token.id);
    created = token;

    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
    await assertSecretGone(secret);
  });

  await t.test('a form error appears in an alert', async () => {
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByLabel('Type').selectOption('team');
    await page.getByLabel('Principal').fill('team-a');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await alertBox().waitFor();
    assert.match(await alertBox().innerText(), /name/i);
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('table').waitFor();
  });

  await t.test('filters: type, principal, last used before', async () => {
    await page.getByLabel('Type').selectOption('team');
    assert.equal(await total('&types=team'), 2);
    await waitTotal(2);
    assert.equal(await tableRows(), 3);
    assert.deepEqual(
      (await page.getByRole('table').getByRole('link').allInnerTexts()).sort(),
      ['deploy bot', 'grafana reader']);
    const principal = page.getByLabel('Principal');
    await principal.fill('team-a');
    await principal.press('Enter');
    await waitTotal(1);
    await page.getByRole('link', { name: 'deploy bot' }).waitFor();
    await page.getByLabel('Type').selectOption('');
    await principal.fill('');
    await principal.press('Enter');
    await waitTotal(await total());

    // Last used before tomorrow: every token (never used, or used today).
    const tomorrow = new Date(Date.now() + DAY).toISOString().slice(0, 10);
    await page.getByLabel('Last used before').fill(tomorrow);
    const cutoff = Date.parse(`${tomorrow}T00:00:00Z`);
    const expected = await apiCall('GET', `/api/v2/token/query?limit=1&lastUsedBefore=${cutoff}`);
    assert.equal(expected.status, 200, JSON.stringify(expected.body));
    await waitTotal(expected.body.totalElements);
    // Before a day long past: only the tokens never used. The admin's use
    // reaches the store within --last-used-resolution; wait until it has.
    await waitStoredUse(admin);
    await page.getByLabel('Last used before').fill('2001-01-01');
    const never = await apiCall('GET', `/api/v2/token/query?limit=1&lastUsedBefore=${Date.parse('2001-01-01T00:00:00Z')}`);
    assert.equal(never.status, 200, JSON.stringify(never.body));
    assert.ok(never.body.totalElements < expected.body.totalElements, 'the signed-in admin has been used');
    await waitTotal(never.body.totalElements);
    await page.getByLabel('Last used before').fill('');
    await waitTotal(await total());
  });

  await t.test('paging: Next page and Previous page', async () => {
    assert.equal(await tableRows(), 21);
    assert.ok(await page.getByRole('button', { name: 'Previous page' }).isDisabled());
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.waitForFunction(() => /Page 2 of 2/.test(document.querySelector('nav.pager')?.innerText ?? ''));
    assert.equal(await tableRows(), (await total()) - 20 + 1);
    const second = await apiCall('GET', '/api/v2/token/query?limit=20&page=1&sort=creationDate&order=DESC');
    const names = await page.getByRole('table').getByRole('link').allInnerTexts();
    assert.deepEqual(names, second.body.content.map((t) => t.name));
    assert.ok(await page.getByRole('button', { name: 'Next page' }).isDisabled());
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.waitForFunction(() => /Page 1 of 2/.test(document.querySelector('nav.pager')?.innerText ?? ''));
    assert.equal(await tableRows(), 21);
  });

  await t.test('details: every field, rotation chain, audit events', async () => {
    await page.getByRole('link', { name: 'deploy bot' }).click();
    await page.getByRole('heading', { name: 'deploy bot', level: 1 }).waitFor();
    const text = await page.locator('main').innerText();
    for (const part of [created.id, 'team-a', 'Deploys from CI', 'workflow/read', 'workflowrun/action', 'Last used', 'Rotation chain', 'Audit events']) {
      assert.ok(text.includes(part), `details show ${part}`);
    }
    await page.getByRole('button', { name: 'Rotate' }).waitFor();
    await page.getByRole('button', { name: 'Revoke' }).waitFor();
    assert.equal(await alertBox().count(), 0, 'no error while loading details');

    // The audit trail holds the token's creation, made by the signed-in
    // admin from this machine, and the details screen shows it.
    const trail = await apiCall('GET', `/api/v2/token/audit?tokenId=${created.id}`);
    assert.equal(trail.status, 200);
    assert.equal(trail.body.content.length, 1, JSON.stringify(trail.body.content));
    const [event] = trail.body.content;
    const adminSelf = await apiCall('GET', '/api/v2/token/self');
    assert.equal(event.action, 'token.created');
    assert.match(event.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/);
    assert.deepEqual(event.subject, { id: created.id, type: 'team', principal: 'team-a', name: 'deploy bot' });
    assert.deepEqual(event.actor, { id: adminSelf.body.id, type: 'global', principal: null });
    assert.equal(event.remoteAddress, '127.0.0.1');
    assert.match(event.hash, /^[0-9a-f]{64}$/);
    const events = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: 'Action' }) });
    await events.waitFor();
    const rows = events.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    const cells = await rows.first().getByRole('cell').allInnerTexts();
    assert.equal(cells[0], formatUtc(event.time), 'the time is the event\'s, in the console\'s format');
    assert.equal(cells[1], 'token.created');
    assert.equal(cells[2], 'global');
    assert.equal(cells[3], '127.0.0.1');
    await screenshot('details');
  });

  await t.test('rotate with an overlap', async () => {
    await page.getByRole('button', { name: 'Rotate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.getByLabel('Overlap').selectOption('3600');
    await page.getByRole('button', { name: 'Rotate' }).click();
    const secretField = page.getByLabel('Secret');
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    secrets.add(secret);
    const self = await apiCall('GET', '/api/v2/token/self', { secret });
    assert.equal(self.status, 200);
    assert.equal(self.body.rotatedFrom, created.id);
    const old = await apiCall('GET', `/api/v2/token/${created.id}`);
    assert.equal(old.status, 200, 'the old token keeps working during the overlap');
    assert.equal(old.body.rotatedTo, self.body.id);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
    await assertSecretGone(secret);
    // The old one shows as rotating; its details link to the new one.
    await page.getByLabel('Principal').fill('team-a');
    await page.getByLabel('Principal').press('Enter');
    await waitTotal(2);
    assert.match(await page.getByRole('table').innerText(), /Rotating/);
    // The old token's details show the chain: itself, then the new one.
    await page.getByRole('row').filter({ hasText: 'Rotating' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'deploy bot', level: 1 }).waitFor();
    const chain = page.getByRole('region', { name: 'Rotation chain' });
    await chain.getByRole('link', { name: 'deploy bot' }).waitFor();
    assert.match(await chain.innerText(), /this token/);
    await chain.getByRole('link', { name: 'deploy bot' }).click();
    await page.getByRole('region', { name: 'Rotation chain' }).getByText('deploy bot (this token)').waitFor();
    assert.ok(page.url().endsWith(`#/token/${self.body.id}`));
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('table').waitFor();
    await page.getByLabel('Principal').fill('');
    await page.getByLabel('Principal').press('Enter');
    await waitTotal(await total());
  });

  await t.test('revoke: Cancel keeps the token, Revoke removes it', async () => {
    await page.getByRole('link', { name: 'build step 24' }).click();
    await page.getByRole('heading', { name: 'build step 24', level: 1 }).waitFor();
    const [token] = await findByName('build step 24');
    await page.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await apiCall('GET', `/api/v2/token/${token.id}`)).status, 200, 'Cancel revokes nothing');
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').waitFor();
    // With the dialog open, its button is the only one named Revoke.
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('table').waitFor();
    assert.equal((await apiCall('GET', `/api/v2/token/${token.id}`)).status, 404, 'the token is gone');
    assert.equal(await page.getByRole('link', { name: 'build step 24' }).count(), 0);
  });

  await t.test('a hostile name is shown as text', async () => {
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByLabel('Type').selectOption('team');
    await page.getByLabel('Name').fill(HOSTILE);
    await page.getByLabel('Principal').fill('team-x');
    await page.getByRole('checkbox', { name: 'token/read' }).check();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByLabel('Secret').waitFor();
    secrets.add(await page.getByLabel('Secret').inputValue());
    await page.getByRole('button', { name: 'Done' }).click();
    const link = page.getByRole('link', { name: HOSTILE });
    await link.waitFor();
    assert.equal(await link.innerText(), HOSTILE);
    await link.click();
    await page.getByRole('heading', { name: HOSTILE, level: 1 }).waitFor();
    assert.equal(await page.locator('img').count(), 0, 'no img element');
    assert.equal(dialogs.length, 0, `no script ran: ${dialogs.join(', ')}`);
    assert.equal((await findByName(HOSTILE)).length, 1);
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('table').waitFor();
  });

  await t.test('a screen left before its data came is not put back', async () => {
    const slowQueries = async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue();
    };
    await page.route('**/api/v2/token/query**', slowQueries);
    await page.evaluate(() => { location.hash = '#/create'; });
    await page.getByLabel('Name').waitFor();
    // The list begins to load, then the person goes to create a token
    // before its tokens arrive.
    await page.evaluate(() => { location.hash = '#/tokens'; });
    await page.evaluate(() => { location.hash = '#/create'; });
    await page.getByLabel('Name').waitFor();
    await page.waitForTimeout(2500);
    assert.equal(await page.getByLabel('Name').count(), 1, 'the create form is still shown');
    await page.unroute('**/api/v2/token/query**', slowQueries);
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('table').waitFor();
  });

  await t.test('a token URL with a malformed escape or no token id shows "not found"', async () => {
    const notFound = page.getByRole('heading', { name: 'Token not found', level: 1 });
    for (const hash of ['#/token/%E0%A4%A', '#/token/query', '#/token/audit', '#/token/policy', '#/token/0123456789ABCDEF01234567']) {
      await page.evaluate((h) => { location.hash = h; }, hash);
      await notFound.waitFor();
      assert.match(await alertBox().innerText(), /no token/i, hash);
      assert.ok(!/undefined/.test(await page.title()), hash);
      await page.getByRole('link', { name: 'Tokens', exact: true }).click();
      await page.getByRole('table').waitFor();
    }
    // Loaded from the start, too: still signed in, on the same screen.
    await page.evaluate(() => { location.hash = '#/token/%E0%A4%A'; });
    await notFound.waitFor();
    await page.reload();
    await notFound.waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(await page.getByLabel('Token').count(), 0, 'no sign-in form');
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await page.getByRole('table').waitFor();
  });

  await t.test('filters: a principal containing a comma is refused, not split', async () => {
    await waitTotal(await total());
    const before = requests.length;
    const principal = page.getByLabel('Principal');
    await principal.fill('wf-build,observability');
    await principal.press('Enter');
    await page.waitForFunction(() => /comma/i.test(document.querySelector('[role=alert]')?.textContent ?? ''));
    assert.match(await alertBox().innerText(), /Principal/);
    await page.waitForTimeout(300);
    const queries = requests.slice(before).filter((r) => new URL(r.url).pathname === '/api/v2/token/query');
    assert.deepEqual(queries.map((r) => r.url), [], 'no query was sent');
    await waitTotal(await total());
    // Cleared, the filter is usable again and the error goes.
    await principal.fill('');
    await principal.press('Enter');
    assert.equal(await alertBox().count(), 0);
  });

  await t.test('create: Name and Description are counted in code points, never cut short', async () => {
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByLabel('Type').selectOption('team');
    await page.getByLabel('Principal').fill('team-c');
    await page.getByRole('checkbox', { name: 'token/read' }).check();
    const before = requests.length;
    const create = page.getByRole('button', { name: 'Create', exact: true });
    await page.getByLabel('Name').fill('n'.repeat(257));
    await create.click();
    await page.waitForFunction(() => /Name: at most 256 characters/.test(document.querySelector('[role=alert]')?.textContent ?? ''));
    await page.getByLabel('Name').fill('fits');
    await page.getByLabel('Description').fill('d'.repeat(1025));
    await create.click();
    await page.waitForFunction(() => /Description: at most 1024 characters/.test(document.querySelector('[role=alert]')?.textContent ?? ''));
    assert.equal(requests.slice(before).filter((r) => r.method === 'POST').length, 0, 'nothing was sent');
    // Pasted text longer than the limits in UTF-16 units but not in code
    // points is kept whole, and the API takes it.
    const name = '\u{1F511}'.repeat(200);
    const description = '\u{1F4DC}'.repeat(1000);
    for (const [label, text] of [['Name', name], ['Description', description]]) {
      await page.getByLabel(label).fill('');
      await page.getByLabel(label).focus();
      await page.keyboard.insertText(text);
      assert.equal(await page.getByLabel(label).inputValue(), text, `${label} was cut short`);
    }
    await create.click();
    await page.getByLabel('Secret').waitFor();
    secrets.add(await page.getByLabel('Secret').inputValue());
    const [token] = await findByName(name);
    assert.ok(token, 'the token exists under its whole name');
    assert.equal(token.description, description);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
  });

  await t.test('Done on the secret screen loads the list once', async () => {
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByLabel('Type').selectOption('team');
    await page.getByLabel('Name').fill('loaded once');
    await page.getByLabel('Principal').fill('team-c');
    await page.getByRole('checkbox', { name: 'token/read' }).check();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByLabel('Secret').waitFor();
    secrets.add(await page.getByLabel('Secret').inputValue());
    const before = requests.length;
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
    await waitTotal(await total());
    await page.waitForTimeout(500);
    const queries = requests.slice(before).filter((r) => new URL(r.url).pathname === '/api/v2/token/query');
    assert.equal(queries.length, 1, queries.map((r) => r.url).join('\n'));
  });

  await t.test('create: Expires offers no day when the type\'s maximum ends before tomorrow', async () => {
    // A policy whose user tokens live at most a minute: no midnight falls
    // within it (bar the last minute of a UTC day).
    const policy = (await apiCall('GET', '/api/v2/token/policy')).body;
    policy.types.user = { maxLifetimeSeconds: 60 };
    const shortUsers = (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(policy) });
    await page.route('**/api/v2/token/policy', shortUsers);
    // The console reads the policy once per load.
    await page.evaluate(() => { location.hash = '#/create'; });
    await page.reload();
    await page.getByLabel('Type').selectOption('user');
    const expires = page.getByLabel('Expires');
    assert.ok(await expires.isDisabled(), 'no day is offered');
    assert.equal(await expires.inputValue(), '');
    const hint = await page.locator(`#${await expires.getAttribute('aria-describedby')}`).innerText();
    assert.match(hint, /no day can be chosen/i);
    assert.match(hint, /Left empty: expires in 1 minute/);
    // A type whose maximum reaches past tomorrow offers tomorrow onwards.
    await page.getByLabel('Type').selectOption('team');
    assert.ok(await expires.isEnabled());
    assert.equal(await expires.getAttribute('min'), new Date(Date.now() + DAY).toISOString().slice(0, 10));
    await page.unroute('**/api/v2/token/policy', shortUsers);
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await page.getByRole('table').waitFor();
  });

  await t.test('a double click on Rotate or Revoke opens one dialog', async () => {
    const hiddenBehind = () => page.evaluate(() =>
      ['.topbar', '.messages', 'main'].filter((s) => document.querySelector(s).hasAttribute('aria-hidden')));
    await page.getByRole('link', { name: 'build step 23' }).click();
    await page.getByRole('heading', { name: 'build step 23', level: 1 }).waitFor();
    // A fresh load with a slow policy: the Rotate dialog waits for it.
    await page.reload();
    await page.getByRole('heading', { name: 'build step 23', level: 1 }).waitFor();
    const slowPolicy = async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 800));
      await route.continue();
    };
    await page.route('**/api/v2/token/policy', slowPolicy);
    await page.getByRole('button', { name: 'Rotate' }).dblclick();
    await page.getByRole('dialog').waitFor();
    await page.waitForTimeout(1200);
    assert.equal(await page.locator('dialog').count(), 1, 'one Rotate dialog');
    await page.unroute('**/api/v2/token/policy', slowPolicy);
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.locator('dialog').count(), 0);
    assert.deepEqual(await hiddenBehind(), [], 'the page is back for assistive technology');
    // Two clicks in a row on Revoke.
    await page.evaluate(() => {
      const revoke = [...document.querySelectorAll('main button')].find((b) => b.textContent === 'Revoke');
      revoke.click();
      revoke.click();
    });
    await page.getByRole('dialog').waitFor();
    assert.equal(await page.locator('dialog').count(), 1, 'one Revoke dialog');
    assert.equal((await hiddenBehind()).length, 3);
    await page.keyboard.press('Escape');
    await page.locator('dialog').waitFor({ state: 'detached' });
    assert.deepEqual(await hiddenBehind(), []);
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await page.getByRole('table').waitFor();
  });

  await t.test('a failed token check at load keeps the session, its navigation and a retry', async () => {
    const unavailable = (route) => route.fulfill({
      status: 503, contentType: 'application/json',
      body: JSON.stringify({ message: 'The store is unavailable; try again.' }),
    });
    await page.route('**/api/v2/token/self', unavailable);
    await page.evaluate(() => { location.hash = '#/create'; });
    await page.getByLabel('Name').waitFor();
    await page.reload();
    const retry = page.getByRole('button', { name: 'Retry' });
    await retry.waitFor();
    assert.match(await alertBox().innerText(), /store is unavailable/);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 1, 'the session is kept');
    assert.equal(await page.getByLabel('Token').count(), 0, 'no sign-in form');
    // The brand link leads to the check again, never to a list without
    // its navigation.
    await page.locator('a.brand').click();
    await page.waitForFunction(() => location.hash === '#/tokens');
    await retry.waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(await page.getByRole('table').count(), 0);
    await page.unroute('**/api/v2/token/self', unavailable);
    await retry.click();
    await page.getByRole('table').waitFor();
    assert.match(await page.locator('#whoami').innerText(), /^Signed in as /);
    assert.equal(await alertBox().count(), 0);
  });

  await t.test('bidirectional controls in a name or principal reorder none of the console\'s text', async () => {
    const name = 'invoice \u202Efdp.exe';
    const principal = 'wf-\u202Emirror';
    const mirror = await createViaApi({ type: 'workflow', name, principal, permissions: ['token/read', 'token/write', 'token/delete'] });
    // Every text node holding a bidi control is the whole content of an
    // isolating element of its own.
    const unisolated = async (least) => {
      const { count, found } = await page.evaluate(() => {
        const leaks = [];
        let seen = 0;
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          if (!/[\u202A-\u202E\u2066-\u2069]/.test(node.data)) continue;
          seen += 1;
          const parent = node.parentElement;
          const isolating = parent.tagName === 'BDI' || parent.getAttribute('dir') === 'auto';
          if (!isolating || parent.textContent !== node.data) leaks.push(parent.textContent);
        }
        return { count: seen, found: leaks };
      });
      assert.deepEqual(found, [], 'user text shares an element with the console\'s');
      assert.ok(count >= least, `${count} user strings shown, ${least} expected`);
    };
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(mirror.token);
    await page.getByRole('table').waitFor();
    await unisolated(4); // "Signed in as" with name and principal, the row's name and principal
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await unisolated(4); // "Signed in as", the heading, the principal
    assert.equal(await page.title(), `\u2068${name}\u2069 · tokend console`);
    for (const button of ['Rotate', 'Revoke']) {
      await page.getByRole('button', { name: button }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      assert.match(await dialog.innerText(), /invoice/);
      await unisolated(5);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
    }
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(admin);
    await page.getByRole('table').waitFor();
  });

  await t.test('sign-out forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.getByRole('table').count(), 0);
    await page.reload();
    await page.getByLabel('Token').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  });

  await t.test('sign-in: a paste holding a character no token has is refused without a request', async () => {
    await page.getByLabel('Token').waitFor();
    for (const pasted of [`${admin}\u200b`, 'bfg_\u20acabc', `${admin.slice(0, 8)} ${admin.slice(8)}`]) {
      const before = requests.length;
      await signIn(pasted);
      await page.waitForFunction(() => /not a tokend token/i.test(document.querySelector('[role=alert]')?.textContent ?? ''));
      assert.doesNotMatch(await alertBox().innerText(), /could not be reached/i);
      assert.equal(requests.slice(before).filter((r) => r.url.includes('/api/')).length, 0, 'no request was sent');
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    }
    // The API client tells a token the browser cannot send from a network
    // failure.
    const message = await page.evaluate(async () => {
      const { api } = await import('./api.js');
      try {
        await api.self('bfg_\u20acabc');
        return 'accepted';
      } catch (error) {
        return error.message;
      }
    });
    assert.match(message, /could not be sent/i);
    assert.doesNotMatch(message, /could not be reached/i);
    // Spaces, tabs and line breaks around a token are trimmed.
    await signIn(`\t ${admin}  `);
    await page.getByRole('table').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tokend.console.token')), admin);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
  });

  await t.test('rotating the signed-in token: the console uses the new secret at once', async () => {
    const own = await createViaApi({ type: 'workflow', name: 'console self', principal: 'wf-self', permissions: ['token/read', 'token/write', 'token/delete'] });
    await signIn(own.token);
    await page.getByRole('table').waitFor();
    let current = own;
    for (const overlap of ['0', '300']) {
      await page.locator(`a[href="#/token/${current.id}"]`).click();
      await page.getByRole('heading', { name: 'console self', level: 1 }).waitFor();
      await page.getByRole('button', { name: 'Rotate' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await page.getByLabel('Overlap').selectOption(overlap);
      const before = requests.length;
      await dialog.getByRole('button', { name: 'Rotate' }).click();
      const secretField = page.getByLabel('Secret');
      await secretField.waitFor();
      const secret = await secretField.inputValue();
      secrets.add(secret);
      assert.match(await page.locator('main').innerText(),
        /You rotated the token you are signed in with; the console now uses the new one/);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('tokend.console.token')), secret);
      await page.getByRole('button', { name: 'Done' }).click();
      await page.getByRole('table').waitFor();
      // After the rotation, no request presented the old secret.
      const later = requests.slice(before).filter((r) => new URL(r.url).pathname.startsWith('/api/'));
      assert.equal(later[0].method, 'POST', 'the rotation comes first');
      for (const request of later.slice(1)) {
        assert.equal(request.headers.authorization, `Bearer ${secret}`, request.url);
      }
      // The new secret is active, from the old token.
      const introspected = await apiCall('POST', '/api/v2/token/introspect', { body: { token: secret } });
      assert.equal(introspected.status, 200);
      assert.equal(introspected.body.active, true, 'the new token still works');
      assert.equal(introspected.body.rotatedFrom, current.id);
      current = introspected.body;
      await page.locator(`a[href="#/token/${current.id}"]`).waitFor();
      assert.match(await page.locator('#whoami').innerText(), /console self/);
    }
    const reuse = await apiCall('GET', '/api/v2/token/audit?actions=token.reuse_detected');
    assert.equal(reuse.status, 200, JSON.stringify(reuse.body));
    assert.deepEqual(reuse.body.content, [], 'no reuse was detected');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
  });

  await t.test('revoking the signed-in token signs out with a message of its own', async () => {
    const own = await createViaApi({ type: 'team', name: 'console own revoke', principal: 'team-own', permissions: ['token/read', 'token/delete'] });
    await signIn(own.token);
    await page.getByRole('table').waitFor();
    await page.locator(`a[href="#/token/${own.id}"]`).click();
    await page.getByRole('heading', { name: 'console own revoke', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /the token you are signed in with/);
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await page.getByLabel('Token').waitFor();
    await page.waitForFunction(() => /you were signed in with, and were signed out/.test(document.querySelector('#status')?.textContent ?? ''));
    assert.equal(await alertBox().isVisible(), false, 'no error: the sign-out was asked for');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.evaluate(() => document.activeElement?.name), 'token');
    assert.equal((await apiCall('GET', '/api/v2/token/self', { secret: own.token })).status, 401);
  });

  await t.test('an expired token: back to sign-in with a message, then refused', async () => {
    // Long enough to sign in on a loaded machine, short enough to wait out.
    const short = await createViaApi({ type: 'team', name: 'short lived', principal: 'team-a', permissions: ['token/read'], expirationDate: Date.now() + 5000 });
    await signIn(short.token);
    await page.getByRole('table').waitFor();
    await page.waitForTimeout(Math.max(0, new Date(short.expirationDate).getTime() - Date.now() + 300));
    assert.equal((await apiCall('GET', '/api/v2/token/self', { secret: short.token })).status, 401);
    await page.getByLabel('Type').selectOption('team');
    await page.getByLabel('Token').waitFor();
    assert.match(await alertBox().innerText(), /expired|no longer accepted/i);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await signIn(short.token);
    await page.waitForFunction(() => /not accepted/i.test(document.querySelector('[role=alert]')?.textContent ?? ''));
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  await t.test('narrow window: the list still works', async () => {
    await signIn(admin);
    await page.getByRole('table').waitFor();
    assert.equal(await page.getByLabel('Type').inputValue(), '', 'sign-out reset the filters');
    // The team tokens show every state: valid, rotating, expired.
    await page.getByLabel('Type').selectOption('team');
    await waitTotal(await total('&types=team'));
    await page.getByRole('heading', { name: 'Tokens', level: 1 }).focus();
    await screenshot('list');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Create token' }).waitFor({ state: 'visible' });
    await screenshot('narrow');
    await page.getByRole('link', { name: 'grafana reader' }).click();
    await page.getByRole('button', { name: 'Revoke' }).waitFor({ state: 'visible' });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  // ---- self rotation, focus, filters, failures, other tabs -------------------

  // Signs out whoever is signed in, then signs in with `secret` and waits
  // for the list.
  const switchTo = async (secret) => {
    if (await page.getByRole('button', { name: 'Sign out' }).isVisible()) {
      await page.getByRole('button', { name: 'Sign out' }).click();
    }
    await page.getByLabel('Token').waitFor();
    await signIn(secret);
    await page.getByRole('table').waitFor();
  };
  // A second tab of the same browser profile, its errors counted like the
  // first tab's.
  const openTab = async () => {
    const tab = await context.newPage();
    tab.setDefaultTimeout(10000);
    tab.on('pageerror', (error) => {
      pageErrors.push(error.message);
      console.error(`page error (second tab): ${error.message}`);
    });
    return tab;
  };
  const apiPath = (request) => new URL(request.url).pathname;
  // The list afresh, as a load of #/tokens shows it: no filter set.
  const freshList = async () => {
    await page.evaluate(() => history.replaceState(null, '', '#/tokens'));
    await page.reload();
    await page.getByRole('table').waitFor();
    await waitTotal(await total());
  };

  await t.test('rotating the signed-in token uses /self/rotate: no permission, no escalation check', async () => {
    // token/read only, and an expiry: the inherited lifetime ends after the
    // token's own expiry, which /{id}/rotate would refuse twice over.
    const own = await createViaApi({ type: 'team', name: 'console self limited', principal: 'team-limited', permissions: ['token/read'], expirationDate: Date.now() + 10 * DAY });
    await switchTo(own.token);
    await page.evaluate((id) => { location.hash = `#/token/${id}`; }, own.id);
    await page.getByRole('heading', { name: 'console self limited', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Rotate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.getByLabel('Overlap').selectOption('0');
    const before = requests.length;
    await dialog.getByRole('button', { name: 'Rotate' }).click();
    const secretField = page.getByLabel('Secret');
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    secrets.add(secret);
    const rotations = requests.slice(before).filter((r) => r.method === 'POST');
    assert.deepEqual(rotations.map(apiPath), ['/api/v2/token/self/rotate']);
    assert.equal(rotations[0].headers.authorization, `Bearer ${own.token}`);
    const introspected = await apiCall('POST', '/api/v2/token/introspect', { body: { token: secret } });
    assert.equal(introspected.body.active, true);
    assert.equal(introspected.body.rotatedFrom, own.id);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tokend.console.token')), secret);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
    await switchTo(admin);
  });

  await t.test('focus: the new secret\'s heading after a rotation; inside the dialog when its action fails', async () => {
    const target = await createViaApi({ type: 'workflow', name: 'focus target', principal: 'wf-focus', permissions: ['workflowrun/read'] });
    const focused = () => page.evaluate(() => ({
      tag: document.activeElement?.tagName,
      text: document.activeElement?.textContent,
      inDialog: Boolean(document.querySelector('dialog')?.contains(document.activeElement)),
    }));
    await page.evaluate((id) => { location.hash = `#/token/${id}`; }, target.id);
    await page.getByRole('heading', { name: 'focus target', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Rotate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Rotate' }).click();
    await page.getByLabel('Secret').waitFor();
    secrets.add(await page.getByLabel('Secret').inputValue());
    assert.deepEqual(await focused(), { tag: 'H1', text: 'Token “focus target” rotated', inDialog: false });

    // The action fails: focus stays on a control of the dialog, by keyboard.
    const [rotated] = await findByName('focus target');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
    const refuse = (route) => route.fulfill({
      status: 409, contentType: 'application/json',
      body: JSON.stringify({ message: 'The rotation was refused for this test.' }),
    });
    await page.route('**/api/v2/token/*/rotate', refuse);
    await page.evaluate((id) => { location.hash = `#/token/${id}`; }, rotated.id);
    await page.getByRole('heading', { name: 'focus target', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Rotate' }).click();
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Rotate' }).focus();
    await page.keyboard.press('Enter');
    await dialog.getByRole('alert').waitFor();
    assert.match(await dialog.getByRole('alert').innerText(), /refused for this test/);
    const after = await focused();
    assert.notEqual(after.tag, 'BODY', 'the focus is on nothing');
    assert.ok(after.inDialog, `the focus left the dialog: ${after.tag}`);
    await page.unroute('**/api/v2/token/*/rotate', refuse);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.evaluate(() => { location.hash = '#/tokens'; });
    await page.getByRole('table').waitFor();
  });

  await t.test('a day typed into "Last used before" by keyboard is applied once, whole, in the same field', async () => {
    await freshList();
    const field = page.getByLabel('Last used before');
    await field.evaluate((input) => { input.dataset.probe = 'kept'; });
    // The keys in the order of the locale's date pattern (en-US: month, day, year).
    const keys = await page.evaluate(() => {
      const digits = { month: '12', day: '25', year: '2026' };
      return new Intl.DateTimeFormat(navigator.language, { year: 'numeric', month: '2-digit', day: '2-digit' })
        .formatToParts(new Date(2026, 11, 25)).filter((p) => p.type in digits).map((p) => digits[p.type]).join('');
    });
    const before = requests.length;
    await field.focus();
    await page.keyboard.type(keys, { delay: 60 });
    const cutoff = Date.parse('2026-12-25T00:00:00Z');
    const expected = await apiCall('GET', `/api/v2/token/query?limit=1&lastUsedBefore=${cutoff}`);
    await waitTotal(expected.body.totalElements);
    await page.waitForTimeout(500);
    assert.equal(await field.inputValue(), '2026-12-25');
    assert.equal(await field.evaluate((input) => input.dataset.probe), 'kept', 'the field was rebuilt');
    assert.equal(await field.evaluate((input) => document.activeElement === input), true, 'the field lost the focus');
    const sent = requests.slice(before).filter((r) => apiPath(r) === '/api/v2/token/query')
      .map((r) => new URL(r.url).searchParams.get('lastUsedBefore'));
    assert.deepEqual(sent, [String(cutoff)]);
    // Leaving the field sends nothing more; emptying it clears the filter.
    await page.keyboard.press('Tab');
    await page.waitForTimeout(300);
    assert.equal(requests.slice(before).filter((r) => apiPath(r) === '/api/v2/token/query').length, 1);
    await field.fill('');
    await waitTotal(await total());
  });

  await t.test('a list that could not be loaded keeps its filters and a way back; the Tokens link reloads it', async () => {
    await freshList();
    const unreachable = (route) => route.abort();
    await page.route('**/api/v2/token/query**', unreachable);
    await page.getByLabel('Type').selectOption('team');
    await page.getByText('The tokens could not be loaded.').waitFor();
    assert.match(await alertBox().innerText(), /could not be reached/);
    assert.equal(await page.getByLabel('Type').inputValue(), 'team', 'the filters are still there');
    await page.getByRole('button', { name: 'Try again' }).waitFor();
    await page.unroute('**/api/v2/token/query**', unreachable);
    // The address is #/tokens already: the link loads the list all the same.
    assert.equal(await page.evaluate(() => location.hash), '#/tokens');
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await waitTotal(await total('&types=team'));
    await page.getByLabel('Type').selectOption('');
    await waitTotal(await total());

    // A filter the server refuses (a URL too long): edit it, or clear them all.
    const principal = page.getByLabel('Principal');
    await principal.fill('p'.repeat(9000));
    await principal.press('Enter');
    await page.getByText('The tokens could not be loaded.').waitFor();
    await alertBox().waitFor();
    await principal.fill('');
    await principal.press('Enter');
    await waitTotal(await total());
    await principal.fill('q'.repeat(9000));
    await principal.press('Enter');
    await page.getByText('The tokens could not be loaded.').waitFor();
    await page.getByRole('button', { name: 'Clear the filters' }).click();
    await waitTotal(await total());
    assert.equal(await page.getByLabel('Principal').inputValue(), '');
    assert.equal(await alertBox().count(), 0);
  });

  await t.test('an answer that is not JSON, or not shaped as tokend\'s, fails with a message', async () => {
    await freshList();
    const proxyPage = (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><p>Sign in to the proxy</p>' });
    await page.route('**/api/v2/token/query**', proxyPage);
    await page.getByLabel('Type').selectOption('user');
    await page.getByText('The tokens could not be loaded.').waitFor();
    assert.match(await alertBox().innerText(), /could not be read/);
    await page.unroute('**/api/v2/token/query**', proxyPage);
    await page.getByLabel('Type').selectOption('');
    await waitTotal(await total());

    const [token] = await findByName('grafana reader');
    const empty = (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{}' });
    await page.route(`**/api/v2/token/${token.id}`, empty);
    await page.evaluate((id) => { location.hash = `#/token/${id}`; }, token.id);
    await page.getByText('The token could not be loaded.').waitFor();
    assert.match(await alertBox().innerText(), /could not be read/);
    await page.unroute(`**/api/v2/token/${token.id}`, empty);

    // The token check at load: the session is kept, with a retry.
    await page.route('**/api/v2/token/self', proxyPage);
    await page.reload();
    const retry = page.getByRole('button', { name: 'Retry' });
    await retry.waitFor();
    assert.match(await alertBox().innerText(), /could not be read/);
    await page.unroute('**/api/v2/token/self', proxyPage);
    await retry.click();
    await page.getByRole('heading', { name: 'grafana reader', level: 1 }).waitFor();
    await page.evaluate(() => { location.hash = '#/tokens'; });
    await page.getByRole('table').waitFor();
  });

  await t.test('the Principal filter keeps non-ASCII spaces at its ends, as the server does', async () => {
    const principalText = '\u00a0team-nbsp\u3000';
    await createViaApi({ type: 'team', name: 'nbsp principal', principal: principalText, permissions: ['token/read'] });
    assert.equal(await total(`&principals=${encodeURIComponent(principalText)}`), 1);
    await freshList();
    const before = requests.length;
    const principal = page.getByLabel('Principal');
    await principal.fill(` ${principalText}\t`);
    await principal.press('Enter');
    await waitTotal(1);
    await page.getByRole('link', { name: 'nbsp principal' }).waitFor();
    const sent = requests.slice(before).filter((r) => apiPath(r) === '/api/v2/token/query')
      .map((r) => new URL(r.url).searchParams.get('principals'));
    assert.deepEqual(sent, [principalText]);
    await principal.fill('');
    await principal.press('Enter');
    await waitTotal(await total());
  });

  await t.test('a token link opened in a new tab leads to that token after sign-in', async () => {
    const [token] = await findByName('grafana reader');
    const tab = await openTab();
    try {
      await tab.goto(`${base}/console/#/token/${token.id}`);
      await tab.getByLabel('Token').fill(admin);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('heading', { name: 'grafana reader', level: 1 }).waitFor();
      assert.equal(new URL(tab.url()).hash, `#/token/${token.id}`);
    } finally {
      await tab.close();
    }
  });

  await t.test('two tabs of one session: rotating the token in one moves the other to the new secret', async () => {
    const own = await createViaApi({ type: 'workflow', name: 'two tabs', principal: 'wf-two-tabs', permissions: ['token/read', 'token/write', 'token/delete'] });
    await switchTo(own.token);
    // The second tab holds the same secret, as a duplicated tab does.
    const tab = await openTab();
    const tabRequests = [];
    tab.on('request', (request) => tabRequests.push({ url: request.url(), headers: request.headers() }));
    try {
      await tab.goto(`${base}/console/`);
      await tab.getByLabel('Token').fill(own.token);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('table').waitFor();

      await page.evaluate((id) => { location.hash = `#/token/${id}`; }, own.id);
      await page.getByRole('heading', { name: 'two tabs', level: 1 }).waitFor();
      await page.getByRole('button', { name: 'Rotate' }).click();
      await page.getByRole('dialog').waitFor();
      await page.getByLabel('Overlap').selectOption('0');
      await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
      await page.getByLabel('Secret').waitFor();
      const secret = await page.getByLabel('Secret').inputValue();
      secrets.add(secret);

      await tab.waitForFunction((s) => sessionStorage.getItem('tokend.console.token') === s, secret, { timeout: 5000 });
      await tab.getByText('rotated in another tab').waitFor();
      const before = tabRequests.length;
      await tab.getByLabel('Type').selectOption('workflow');
      await tab.getByRole('link', { name: 'two tabs' }).waitFor();
      const later = tabRequests.slice(before).filter((r) => new URL(r.url).pathname.startsWith('/api/'));
      assert.ok(later.length > 0);
      for (const request of later) assert.equal(request.headers.authorization, `Bearer ${secret}`, request.url);
      const introspected = await apiCall('POST', '/api/v2/token/introspect', { body: { token: secret } });
      assert.equal(introspected.body.active, true, 'the new token still works');
      const reuse = await apiCall('GET', '/api/v2/token/audit?actions=token.reuse_detected');
      assert.deepEqual(reuse.body.content, [], 'no reuse was detected');
      for (const request of tabRequests) {
        assert.equal(new URL(request.url).origin, new URL(base).origin, request.url);
        for (const known of secrets) assert.ok(!request.url.includes(known), 'a secret in a URL');
      }
    } finally {
      await tab.close();
    }
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
    await switchTo(admin);
  });

  await t.test('create: for a signed-in token that expires, Expires ends with it and an empty field is not "never"', async () => {
    const expiring = Date.now() + 3 * DAY;
    const own = await createViaApi({ type: 'team', name: 'expiring creator', principal: 'team-e', permissions: ['token/read', 'token/write'], expirationDate: expiring });
    await switchTo(own.token);
    await page.getByRole('button', { name: 'Create token' }).click();
    const expires = page.getByLabel('Expires');
    const hint = async () => page.locator(`#${await expires.getAttribute('aria-describedby')}`).innerText();
    const ownDay = new Date(expiring).toISOString().slice(0, 10);
    // No maximum for workflow tokens: the creator's expiry is the only bound.
    await page.getByLabel('Type').selectOption('workflow');
    assert.equal(await expires.getAttribute('max'), ownDay);
    assert.doesNotMatch(await hint(), /never expires/);
    assert.match(await hint(), /choose a day/);
    assert.match(await hint(), new RegExp(`${ownDay} at the latest`));
    // Team tokens: 90 days at most, 30 by default, both after the creator's.
    await page.getByLabel('Type').selectOption('team');
    assert.equal(await expires.getAttribute('max'), ownDay);
    assert.match(await hint(), /Left empty, the token would expire in 30 days, after your own token/);
    // The last day offered is one the server takes.
    await page.getByLabel('Name').fill('made by an expiring token');
    await page.getByLabel('Principal').fill('team-e');
    await page.getByRole('checkbox', { name: 'token/read' }).check();
    await expires.fill(ownDay);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByLabel('Secret').waitFor();
    secrets.add(await page.getByLabel('Secret').inputValue());
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('table').waitFor();
    await switchTo(admin);
  });

  await t.test('no script error happened', () => {
    assert.deepEqual(pageErrors, []);
  });

  await t.test('every request stayed on the origin and put no secret in a URL', async () => {
    assert.ok(requests.length > 10);
    const origin = new URL(base).origin;
    for (const request of requests) {
      assert.equal(new URL(request.url).origin, origin, request.url);
      assert.ok(!/access_token/i.test(request.url), request.url);
      for (const secret of secrets) assert.ok(!request.url.includes(secret), 'a secret in a URL');
      if (new URL(request.url).pathname.startsWith('/api/')) {
        assert.match(request.headers.authorization ?? '', /^Bearer /, `${request.url} has no bearer header`);
      }
    }
  });
});
