// Browser test of the example page: headless Chromium (Debian's), the real @anam-ai/js-sdk, the local dev
// server in offline mode (the function behind it, and the Anam stand-in) and CORS across two origins.
//
// Run through tests/browser/test_web_example.py, which starts the servers and sets:
//   WEB_URL                   the page, served from its own origin (e.g. http://127.0.0.1:8123/index.html)
//   ENDPOINT_URL              dev server that issues normal (ephemeral) tokens, allowing WEB_URL's origin
//   ANAM_API_BASE_URL         its Anam stand-in, with the SDK routes (local/anam_sdk_routes.py)
//   LEGACY_ENDPOINT_URL       dev server started with --stub-token-type legacy
//   LEGACY_ANAM_API_BASE_URL  its Anam stand-in (default: ANAM_API_BASE_URL)
//   PROMPT_MAX_CHARS          the function's limit (default 4000)
//   CHROMIUM_PATH             default /usr/bin/chromium
//   SCREENSHOT_DIR            optional: a screenshot of each case's final state goes there
//
// Nothing may leave 127.0.0.1: every request is intercepted, anything else is aborted and fails the test,
// and Chromium's resolver maps every other host name to nothing.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this through tests/browser/test_web_example.py (pytest -m browser)`);
  }
  return value;
}

const WEB_URL = required('WEB_URL');
const ENDPOINT_URL = required('ENDPOINT_URL');
const ANAM_API_BASE_URL = required('ANAM_API_BASE_URL').replace(/\/+$/, '');
const LEGACY_ENDPOINT_URL = required('LEGACY_ENDPOINT_URL');
const LEGACY_ANAM_API_BASE_URL = (process.env.LEGACY_ANAM_API_BASE_URL || ANAM_API_BASE_URL).replace(/\/+$/, '');
const PROMPT_MAX_CHARS = Number(process.env.PROMPT_MAX_CHARS || 4000);
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';

const LEGACY_MESSAGE = 'Legacy session tokens are no longer supported';
const STEP_TIMEOUT_MS = 20000;

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // A microphone without a prompt, should the SDK ask for one.
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      // Belt and braces: no host name but 127.0.0.1 resolves.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
});

after(async () => {
  await browser?.close();
});

function isLocal(rawUrl) {
  const url = new URL(rawUrl);
  if (['data:', 'blob:', 'about:'].includes(url.protocol)) {
    return true;
  }
  return url.hostname === '127.0.0.1';
}

/** Open the page with the given query parameters, watching everything it does. */
async function openPage(query, pageUrl = WEB_URL) {
  const context = await browser.newContext({ permissions: ['microphone'] });
  const watch = {
    context,
    offLimits: [], // requests that would have left 127.0.0.1 (aborted)
    requests: [], // every request Chromium made, in order
    websockets: [],
    states: [], // the page's state transitions, from its console log
    console: [],
    pageErrors: [],
  };
  await context.route('**/*', async (route) => {
    const request = route.request();
    if (isLocal(request.url())) {
      await route.continue();
    } else {
      watch.offLimits.push(`${request.method()} ${request.url()}`);
      await route.abort('blockedbyclient');
    }
  });
  const page = await context.newPage();
  watch.page = page;
  page.on('request', (request) => watch.requests.push(request));
  page.on('websocket', (ws) => {
    watch.websockets.push(ws.url());
    if (!isLocal(ws.url())) {
      watch.offLimits.push(`WebSocket ${ws.url()}`);
    }
  });
  page.on('console', (message) => {
    const text = message.text();
    watch.console.push(`[${message.type()}] ${text}`);
    const match = /^\[anam-example\] state: (\S+)/.exec(text);
    if (match) {
      watch.states.push(match[1]);
    }
  });
  page.on('pageerror', (error) => watch.pageErrors.push(String(error)));

  const url = new URL(pageUrl);
  for (const [key, value] of Object.entries(query)) {
    url.searchParams.set(key, value);
  }
  const response = await page.goto(url.href);
  assert.equal(response.status(), 200, `the page itself did not load from ${url.href}`);
  await page.locator('#status[data-state="idle"]').waitFor({ timeout: STEP_TIMEOUT_MS });
  return watch;
}

/** What the page shows: its state, and the error panel when visible. */
async function shown(page) {
  return page.evaluate(() => {
    const error = document.getElementById('error');
    return {
      state: document.getElementById('status').dataset.state,
      status: document.getElementById('status').textContent,
      errorVisible: !error.hidden,
      errorSource: error.dataset.source || '',
      errorCode: error.dataset.code || '',
      errorMessage: document.getElementById('error-message').textContent,
      errorMeta: document.getElementById('error-meta').textContent,
    };
  });
}

async function waitForState(watch, state) {
  await watch.page.locator(`#status[data-state="${state}"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
}

function describe(watch) {
  return [
    `states: ${watch.states.join(' -> ')}`,
    `requests:\n  ${watch.requests.map((r) => `${r.method()} ${r.url()}`).join('\n  ')}`,
    `websockets: ${watch.websockets.join(', ') || '(none)'}`,
    `console:\n  ${watch.console.join('\n  ')}`,
    `page errors: ${watch.pageErrors.join('\n') || '(none)'}`,
  ].join('\n');
}

async function finish(watch, name) {
  try {
    if (SCREENSHOT_DIR) {
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      await watch.page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    }
    assert.deepEqual(watch.offLimits, [], `Chromium tried to reach beyond 127.0.0.1\n${describe(watch)}`);
    assert.deepEqual(watch.pageErrors, [], `uncaught errors in the page\n${describe(watch)}`);
  } finally {
    await watch.context.close();
  }
}

function decodeJwtPayload(token) {
  const part = token.split('.')[1];
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

test('(a) the page gets a token, the real SDK accepts it and starts a session with it', async () => {
  const watch = await openPage({ endpoint: ENDPOINT_URL, anamApiBaseUrl: ANAM_API_BASE_URL });
  const { page } = watch;
  const sessionUrl = `${ANAM_API_BASE_URL}/v1/engine/session`;
  try {
    await page.fill('#prompt', 'Answer in French.');
    const tokenResponse = page.waitForResponse(
      (r) => r.url() === ENDPOINT_URL && r.request().method() === 'POST',
      { timeout: STEP_TIMEOUT_MS },
    );
    const sessionResponse = page.waitForResponse(
      (r) => r.url() === sessionUrl && r.request().method() === 'POST',
      { timeout: STEP_TIMEOUT_MS },
    );
    await page.click('#start');

    // The endpoint answered across origins (CORS) with a non-legacy token, and the prompt went with it.
    const token = await tokenResponse;
    assert.equal(token.status(), 200, describe(watch));
    assert.deepEqual(token.request().postDataJSON(), { prompt: 'Answer in French.' });
    const body = await token.json();
    assert.equal(typeof body.sessionToken, 'string');
    const claims = decodeJwtPayload(body.sessionToken);
    assert.notEqual(String(claims.type).toLowerCase(), 'legacy', 'the offline stand-in issued a legacy token');
    if ('expiresAt' in body) {
      assert.match(body.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }

    // createClient accepted it (it throws synchronously on a token it refuses), the page went on to
    // "connecting", and the SDK used exactly this token to start an engine session at the stand-in.
    const session = await sessionResponse;
    const sessionHeaders = await session.request().allHeaders();
    assert.equal(sessionHeaders.authorization, `Bearer ${body.sessionToken}`);
    assert.ok(watch.states.includes('connecting'), describe(watch));
    assert.equal(
      session.status(),
      200,
      `the stand-in did not start an engine session: are local/anam_sdk_routes.py's routes registered?\n${describe(watch)}`,
    );
    const engine = await session.json();

    // The stand-in has no signalling server or WebRTC media: the SDK opens its signalling WebSocket on
    // 127.0.0.1, gives up after its retries and closes the connection. That (and nothing about the token) is
    // the error the page ends on.
    await waitForState(watch, 'error');
    const final = await shown(page);
    assert.ok(
      watch.websockets.some((url) => url.includes(`session_id=${encodeURIComponent(engine.sessionId)}`)),
      `the SDK did not open its signalling WebSocket\n${describe(watch)}`,
    );
    assert.equal(final.errorSource, 'connection', `${JSON.stringify(final)}\n${describe(watch)}`);
    assert.equal(final.errorCode, 'CONNECTION_CLOSED_CODE_SIGNALLING_CLIENT_CONNECTION_FAILURE');
    assert.doesNotMatch(final.errorMessage, /legacy|session token/i);
    assert.deepEqual(watch.states.slice(0, 4), ['idle', 'fetching-token', 'connecting', 'error'], describe(watch));
  } finally {
    await finish(watch, 'a-token-accepted');
  }
});

test('(b) a legacy token: the SDK refuses it with its migration message, shown in the page', async () => {
  const watch = await openPage({ endpoint: LEGACY_ENDPOINT_URL, anamApiBaseUrl: LEGACY_ANAM_API_BASE_URL });
  const { page } = watch;
  try {
    const tokenResponse = page.waitForResponse(
      (r) => r.url() === LEGACY_ENDPOINT_URL && r.request().method() === 'POST',
      { timeout: STEP_TIMEOUT_MS },
    );
    await page.click('#start');
    const token = await tokenResponse;
    assert.equal(token.status(), 200, describe(watch));
    assert.deepEqual(token.request().postDataJSON(), {});
    const body = await token.json();
    assert.equal(decodeJwtPayload(body.sessionToken).type, 'legacy', 'the stand-in was not in legacy mode');

    await waitForState(watch, 'error');
    const final = await shown(page);
    assert.equal(final.errorSource, 'sdk', `${JSON.stringify(final)}\n${describe(watch)}`);
    assert.ok(final.errorMessage.includes(LEGACY_MESSAGE), JSON.stringify(final));
    assert.equal(final.errorCode, 'CLIENT_ERROR_CODE_CONFIGURATION_ERROR');
    assert.deepEqual(watch.states, ['idle', 'fetching-token', 'error'], describe(watch));
    assert.ok(
      !watch.requests.some((r) => r.url().startsWith(`${LEGACY_ANAM_API_BASE_URL}/v1/`)),
      `the SDK went on to call the Anam API with a refused token\n${describe(watch)}`,
    );
  } finally {
    await finish(watch, 'b-legacy-token');
  }
});

test('(c) an error answer from the endpoint is shown as its message and code', async () => {
  const watch = await openPage({ endpoint: ENDPOINT_URL, anamApiBaseUrl: ANAM_API_BASE_URL });
  const { page } = watch;
  try {
    await page.fill('#prompt', 'x'.repeat(PROMPT_MAX_CHARS + 1));
    const tokenResponse = page.waitForResponse(
      (r) => r.url() === ENDPOINT_URL && r.request().method() === 'POST',
      { timeout: STEP_TIMEOUT_MS },
    );
    await page.click('#start');
    const token = await tokenResponse;
    assert.equal(token.status(), 400, describe(watch));
    const body = await token.json();
    assert.equal(body.code, 'prompt_too_long');
    assert.equal(typeof body.error, 'string');

    await waitForState(watch, 'error');
    const final = await shown(page);
    assert.equal(final.errorSource, 'endpoint', `${JSON.stringify(final)}\n${describe(watch)}`);
    assert.equal(final.errorMessage, body.error);
    assert.equal(final.errorCode, 'prompt_too_long');
    assert.ok(final.errorMeta.includes('prompt_too_long'), final.errorMeta);
    assert.ok(final.errorMeta.includes('400'), final.errorMeta);
    if (body.requestId) {
      assert.ok(final.errorMeta.includes(body.requestId), final.errorMeta);
    }
    assert.deepEqual(watch.states, ['idle', 'fetching-token', 'error'], describe(watch));
    assert.ok(
      !watch.requests.some((r) => r.url().startsWith(`${ANAM_API_BASE_URL}/v1/`)),
      `the SDK was started without a token\n${describe(watch)}`,
    );
  } finally {
    await finish(watch, 'c-endpoint-error');
  }
});

test('(d) a page on an origin the endpoint does not allow is refused by CORS', async () => {
  // The same page from another origin (another port): the endpoint sends it no CORS headers, so the
  // browser refuses the answer and the page can only say that it could not reach the endpoint.
  const pageUrl = new URL(WEB_URL);
  const page = await fetch(pageUrl).then((r) => r.text());
  const script = await fetch(new URL('main.js', pageUrl)).then((r) => r.text());
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (path.endsWith('/main.js')) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
    } else if (path.endsWith('/') || path.endsWith('.html')) {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(page);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const otherOrigin = `http://127.0.0.1:${server.address().port}`;
  const watch = await openPage({ endpoint: ENDPOINT_URL }, `${otherOrigin}/index.html`);
  try {
    await watch.page.click('#start');
    await waitForState(watch, 'error');
    const final = await shown(watch.page);
    assert.equal(final.errorSource, 'network', `${JSON.stringify(final)}\n${describe(watch)}`);
    assert.ok(final.errorMessage.includes(ENDPOINT_URL), final.errorMessage);
    assert.deepEqual(watch.states, ['idle', 'fetching-token', 'error'], describe(watch));
  } finally {
    await finish(watch, 'd-origin-not-allowed');
    server.close();
  }
});
