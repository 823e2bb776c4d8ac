// What the browser tests of the example page share (e2e.test.mjs, waits-and-sessions.test.mjs): the page as
// docs/local-development.md tells a person to use it, `make dev` and the URL it prints, in headless Chromium
// (Debian's) with the real @anam-ai/js-sdk bundled in; one Chromium per test file.
//
// Run through tests/browser/test_web_example.py, which starts `make dev` and sets:
//   PAGE_URL                  the page `make dev` printed ("Example page: http://127.0.0.1:<port>/")
//   ENDPOINT_URL              its endpoint (the same origin + /session-token)
//   ANAM_API_BASE_URL         its offline Anam stand-in, with the SDK routes (local/standins/anam_sdk_routes.py)
//   LEGACY_ENDPOINT_URL       a dev server started with --stub-token-type legacy, allowing PAGE_URL's origin
//   LEGACY_ANAM_API_BASE_URL  its Anam stand-in
//   DOWN_ENDPOINT_URL         an endpoint URL where nothing listens
//   PAGE_FILE                 the built page on disk (examples/web/dist/index.html)
//   PROMPT_MAX_CHARS          the function's limit (default 4000)
//   CALLER_SESSIONS_PER_HOUR  the spend guard's hourly tokens per caller in make dev (default 10)
//   EXPECT_SESSION_FIELDS     1: make dev's token answer must carry maxSessionLengthSeconds and endHandle
//                             (contract §3, §12); otherwise the case on make dev's own answer checks them only
//                             when they are there, and the cases that play them back check the page alone
//   CHROMIUM_PATH             default /usr/bin/chromium
//   SCREENSHOT_DIR            optional: a screenshot of each case that fails goes there
//
// Nothing may leave 127.0.0.1: every request is intercepted, anything else is aborted and fails the test
// (except Turnstile's script, which one case answers with a stand-in), and Chromium's resolver maps every
// other host name to nothing.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this through tests/browser/test_web_example.py (pytest -m browser)`);
  }
  return value;
}

export const PAGE_URL = required('PAGE_URL');
export const ENDPOINT_URL = required('ENDPOINT_URL');
export const ANAM_API_BASE_URL = required('ANAM_API_BASE_URL').replace(/\/+$/, '');
export const LEGACY_ENDPOINT_URL = required('LEGACY_ENDPOINT_URL');
export const LEGACY_ANAM_API_BASE_URL = required('LEGACY_ANAM_API_BASE_URL').replace(/\/+$/, '');
export const DOWN_ENDPOINT_URL = required('DOWN_ENDPOINT_URL');
export const PAGE_FILE = required('PAGE_FILE');
export const PROMPT_MAX_CHARS = Number(process.env.PROMPT_MAX_CHARS || 4000);
export const CALLER_SESSIONS_PER_HOUR = Number(process.env.CALLER_SESSIONS_PER_HOUR || 10);
export const EXPECT_SESSION_FIELDS = process.env.EXPECT_SESSION_FIELDS === '1';
export const SESSION_ENDED_URL = new URL('session-ended', ENDPOINT_URL).href;
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';

export const LEGACY_MESSAGE = 'Legacy session tokens are no longer supported';
export const STEP_TIMEOUT_MS = 30000;
export const TURNSTILE_SCRIPT = 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit';
// Cloudflare's documented test site key (always passes) and the dummy token its test keys produce.
export const TURNSTILE_TEST_SITE_KEY = '1x00000000000000000000AA';
export const TURNSTILE_TEST_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';
// A stand-in for Turnstile's api.js: renders a box and hands the page the dummy token, as the real widget does,
// and a new one `solveMs` after each reset (the real widget solves its challenge again).
export function turnstileStandIn(solveMs = 0) {
  return `
  window.turnstile = {
    render(element, options) {
      element.textContent = 'Turnstile (test stand-in)';
      element.dataset.sitekey = options.sitekey;
      this.solve = (delay) => setTimeout(() => options.callback(${JSON.stringify(TURNSTILE_TEST_TOKEN)}), delay);
      this.solve(0);
      return 'widget-1';
    },
    reset() {
      this.solve(${Number(solveMs)});
    },
  };`;
}
export const TURNSTILE_STAND_IN = turnstileStandIn();

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
  if (['data:', 'blob:', 'about:', 'file:'].includes(url.protocol)) {
    return true;
  }
  return url.hostname === '127.0.0.1';
}

/**
 * Open `pageUrl` with the given query parameters, watching everything it does, run `body(watch)`, and keep a
 * screenshot when it fails. `fakes` maps URLs beyond 127.0.0.1 to the script served in their place.
 */
export async function onPage(name, { pageUrl = PAGE_URL, query = {}, fakes = {}, ready = 'idle' }, body) {
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
    if (request.url() in fakes) {
      await route.fulfill({ status: 200, contentType: 'text/javascript', body: fakes[request.url()] });
    } else if (isLocal(request.url())) {
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

  try {
    const url = new URL(pageUrl);
    for (const [key, value] of Object.entries(query)) {
      url.searchParams.set(key, value);
    }
    const response = await page.goto(url.href);
    assert.ok(response === null || response.status() === 200, `the page itself did not load from ${url.href}`);
    if (ready) {
      await page.locator(`#status[data-state="${ready}"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
    }
    await body(watch);
    assert.deepEqual(watch.offLimits, [], `Chromium tried to reach beyond 127.0.0.1\n${describe(watch)}`);
    assert.deepEqual(watch.pageErrors, [], `uncaught errors in the page\n${describe(watch)}`);
  } catch (err) {
    if (SCREENSHOT_DIR) {
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true }).catch(() => {});
    }
    throw err;
  } finally {
    await context.close();
  }
}

/** What the page shows: its state, the token line, and the error panel when visible. */
export async function shown(page) {
  return page.evaluate(() => {
    const error = document.getElementById('error');
    const tokenInfo = document.getElementById('token-info');
    return {
      state: document.getElementById('status').dataset.state,
      status: document.getElementById('status').textContent,
      tokenInfo: tokenInfo.hidden ? '' : tokenInfo.textContent,
      errorVisible: !error.hidden,
      errorSource: error.dataset.source || '',
      errorCode: error.dataset.code || '',
      errorMessage: document.getElementById('error-message').textContent,
      errorAdvice: document.getElementById('error-advice').hidden
        ? ''
        : document.getElementById('error-advice').textContent,
      errorMeta: document.getElementById('error-meta').textContent,
      waitVisible: !document.getElementById('wait').hidden,
      waitCode: document.getElementById('wait').dataset.code || '',
      waitMessage: document.getElementById('wait-message').textContent,
      waitCountdown: document.getElementById('wait-countdown').hidden
        ? ''
        : document.getElementById('wait-countdown').textContent,
      sessionCountdown: document.getElementById('session-countdown').hidden
        ? ''
        : document.getElementById('session-countdown').textContent,
      sessionSecondsLeft: Number(document.getElementById('session-countdown').dataset.secondsLeft ?? NaN),
      // Everything a visitor can read on the page, to check what it never says.
      visibleText: document.body.innerText,
    };
  });
}

export async function waitForState(watch, state) {
  await watch.page.locator(`#status[data-state="${state}"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
}

/** Click Start and wait until the page has gone through fetching a token to its next resting state. */
export async function startAndSettle(watch, resting = ['error', 'offline-ready']) {
  const before = watch.states.length;
  await watch.page.click('#start');
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const since = watch.states.slice(before);
    if (since.length >= 2 && resting.includes(since.at(-1))) {
      return since;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the page did not settle after Start\n${describe(watch)}`);
}

export function postTo(watch, url) {
  return watch.page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST', {
    timeout: STEP_TIMEOUT_MS,
  });
}

export function describe(watch) {
  return [
    `states: ${watch.states.join(' -> ')}`,
    `requests:\n  ${watch.requests.map((r) => `${r.method()} ${r.url()}`).join('\n  ')}`,
    `websockets: ${watch.websockets.join(', ') || '(none)'}`,
    `console:\n  ${watch.console.join('\n  ')}`,
    `page errors: ${watch.pageErrors.join('\n') || '(none)'}`,
  ].join('\n');
}

/**
 * Start well inside one UTC hour: the spend guard counts a caller's tokens per hour, so a case that spends
 * them all and then expects the 429 must not straddle the hour's end (as tests/support/dynamodb_engines.py's
 * clear_of_a_window_end does for the Python tests).
 */
export async function clearOfAnHourEnd(marginMs = 15000) {
  const hourMs = 3600 * 1000;
  const left = hourMs - (Date.now() % hourMs);
  if (left < marginMs) {
    await new Promise((resolve) => setTimeout(resolve, left + 1000));
  }
}

/** A sign-in token as an identity provider's JWT looks (make dev does not verify its signature). */
export function unsignedJwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(claims)}.c2ln`;
}

export function decodeJwtPayload(token) {
  const part = token.split('.')[1];
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}
