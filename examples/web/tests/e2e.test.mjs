// Browser test of the example page as docs/local-development.md tells a person to use it: `make dev`, then
// the page at the URL it prints, in headless Chromium (Debian's) with the real @anam-ai/js-sdk bundled in.
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
import { createServer } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this through tests/browser/test_web_example.py (pytest -m browser)`);
  }
  return value;
}

const PAGE_URL = required('PAGE_URL');
const ENDPOINT_URL = required('ENDPOINT_URL');
const ANAM_API_BASE_URL = required('ANAM_API_BASE_URL').replace(/\/+$/, '');
const LEGACY_ENDPOINT_URL = required('LEGACY_ENDPOINT_URL');
const LEGACY_ANAM_API_BASE_URL = required('LEGACY_ANAM_API_BASE_URL').replace(/\/+$/, '');
const DOWN_ENDPOINT_URL = required('DOWN_ENDPOINT_URL');
const PAGE_FILE = required('PAGE_FILE');
const PROMPT_MAX_CHARS = Number(process.env.PROMPT_MAX_CHARS || 4000);
const CALLER_SESSIONS_PER_HOUR = Number(process.env.CALLER_SESSIONS_PER_HOUR || 10);
const EXPECT_SESSION_FIELDS = process.env.EXPECT_SESSION_FIELDS === '1';
const SESSION_ENDED_URL = new URL('session-ended', ENDPOINT_URL).href;
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';

const LEGACY_MESSAGE = 'Legacy session tokens are no longer supported';
const STEP_TIMEOUT_MS = 30000;
const TURNSTILE_SCRIPT = 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit';
// Cloudflare's documented test site key (always passes) and the dummy token its test keys produce.
const TURNSTILE_TEST_SITE_KEY = '1x00000000000000000000AA';
const TURNSTILE_TEST_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';
// A stand-in for Turnstile's api.js: renders a box and hands the page the dummy token, as the real widget does.
const TURNSTILE_STAND_IN = `
  window.turnstile = {
    render(element, options) {
      element.textContent = 'Turnstile (test stand-in)';
      element.dataset.sitekey = options.sitekey;
      setTimeout(() => options.callback(${JSON.stringify(TURNSTILE_TEST_TOKEN)}), 0);
      return 'widget-1';
    },
    reset() {},
  };`;

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
async function onPage(name, { pageUrl = PAGE_URL, query = {}, fakes = {}, ready = 'idle' }, body) {
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
async function shown(page) {
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

async function waitForState(watch, state) {
  await watch.page.locator(`#status[data-state="${state}"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
}

/** Click Start and wait until the page has gone through fetching a token to its next resting state. */
async function startAndSettle(watch, resting = ['error', 'offline-ready']) {
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

function postTo(watch, url) {
  return watch.page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST', {
    timeout: STEP_TIMEOUT_MS,
  });
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

/**
 * Start well inside one UTC hour: the spend guard counts a caller's tokens per hour, so a case that spends
 * them all and then expects the 429 must not straddle the hour's end (as tests/support/dynamodb_engines.py's
 * clear_of_a_window_end does for the Python tests).
 */
async function clearOfAnHourEnd(marginMs = 15000) {
  const hourMs = 3600 * 1000;
  const left = hourMs - (Date.now() % hourMs);
  if (left < marginMs) {
    await new Promise((resolve) => setTimeout(resolve, left + 1000));
  }
}

/** A sign-in token as an identity provider's JWT looks (make dev does not verify its signature). */
function unsignedJwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(claims)}.c2ln`;
}

function decodeJwtPayload(token) {
  const part = token.split('.')[1];
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

test('the page make dev prints, opened as it is, gets a token the real SDK accepts: the offline success state', async () => {
  await onPage('offline-success', {}, async (watch) => {
    const { page } = watch;
    assert.equal(await page.locator('#not-running').isHidden(), true, 'the page script did not run');
    assert.equal(await page.locator('#offline-note').isVisible(), true, 'the page does not say it is offline');
    await page.fill('#prompt', 'Answer in French.');
    const tokenResponse = postTo(watch, ENDPOINT_URL);
    const sessionResponse = postTo(watch, `${ANAM_API_BASE_URL}/v1/engine/session`);

    const states = await startAndSettle(watch);

    // The page was wired to make dev's endpoint and sent the prompt; the token is not a legacy one.
    const token = await tokenResponse;
    assert.equal(token.status(), 200, describe(watch));
    assert.deepEqual(token.request().postDataJSON(), { prompt: 'Answer in French.' });
    const body = await token.json();
    assert.notEqual(String(decodeJwtPayload(body.sessionToken).type).toLowerCase(), 'legacy');
    // ...and to the stand-in: the SDK started an engine session there with exactly this token.
    const session = await sessionResponse;
    assert.equal((await session.request().allHeaders()).authorization, `Bearer ${body.sessionToken}`);
    assert.equal(session.status(), 200, describe(watch));

    const final = await shown(page);
    assert.deepEqual(states, ['fetching-token', 'connecting', 'offline-ready'], describe(watch));
    assert.match(final.status, /Offline: no avatar stream; set ANAM_API_KEY for a real one/);
    assert.ok(final.tokenInfo.includes(body.expiresAt.replace('T', ' ').replace('Z', ' UTC')), final.tokenInfo);
    assert.ok(final.tokenInfo.includes((await session.json()).sessionId), final.tokenInfo);
    assert.equal(final.errorVisible, false);
  });
});

test('Start, then Stop: the stand-in hears the session end, and make reconcile gives back what it did not use', async () => {
  // A visitor of its own (a sign-in token), so that this case spends none of the anonymous caller's tokens.
  const signIn = unsignedJwt({ sub: 'visitor-who-stops' });
  await onPage('stop-and-reconcile', {}, async (watch) => {
    const { page } = watch;
    await page.locator('#sign-in summary').click();
    await page.fill('#auth-token', signIn);
    const sessionResponse = postTo(watch, `${ANAM_API_BASE_URL}/v1/engine/session`);
    await startAndSettle(watch);
    const { sessionId } = await (await sessionResponse).json();
    assert.equal(await page.locator('#stop').isEnabled(), true, `Stop is not offered\n${describe(watch)}`);

    const stopResponse = postTo(watch, `${ANAM_API_BASE_URL}/standin/session/stop`);
    await page.click('#stop');
    const stopped = await stopResponse;
    assert.equal(stopped.status(), 204, describe(watch));
    assert.deepEqual(stopped.request().postDataJSON(), { sessionId });
    await waitForState(watch, 'idle');

    // What `make reconcile` does: the schedule's event, in make dev's function (local/reconcile.py).
    const answer = await fetch(`${new URL(ENDPOINT_URL).origin}/_local/reconcile`, { method: 'POST' });
    const summary = await answer.json();
    assert.equal(summary.reconciled, true, JSON.stringify(summary));
    assert.ok(summary.settledUsed >= 1, JSON.stringify(summary));
    assert.ok(summary.minutesGivenBack >= 9, JSON.stringify(summary)); // 10 reserved, a minute at most used
  });
});

test('a legacy token: the SDK refuses it with its migration message, shown in the page', async () => {
  const query = { endpoint: LEGACY_ENDPOINT_URL, anamApiBaseUrl: LEGACY_ANAM_API_BASE_URL };
  await onPage('legacy-token', { query }, async (watch) => {
    const tokenResponse = postTo(watch, LEGACY_ENDPOINT_URL);
    const states = await startAndSettle(watch);
    const token = await tokenResponse;
    assert.equal(token.status(), 200, describe(watch));
    assert.equal(decodeJwtPayload((await token.json()).sessionToken).type, 'legacy');

    const final = await shown(watch.page);
    assert.equal(final.errorSource, 'sdk', `${JSON.stringify(final)}\n${describe(watch)}`);
    assert.ok(final.errorMessage.includes(LEGACY_MESSAGE), JSON.stringify(final));
    assert.equal(final.errorCode, 'CLIENT_ERROR_CODE_CONFIGURATION_ERROR');
    assert.deepEqual(states, ['fetching-token', 'error'], describe(watch));
    assert.ok(
      !watch.requests.some((r) => r.url().startsWith(`${LEGACY_ANAM_API_BASE_URL}/v1/`)),
      `the SDK went on to call the Anam API with a refused token\n${describe(watch)}`,
    );
  });
});

test('a prompt that is too long: the endpoint refuses it, the page shows its message and code', async () => {
  await onPage('prompt-too-long', {}, async (watch) => {
    await watch.page.fill('#prompt', 'x'.repeat(PROMPT_MAX_CHARS + 1));
    const tokenResponse = postTo(watch, ENDPOINT_URL);
    const states = await startAndSettle(watch);
    const token = await tokenResponse;
    assert.equal(token.status(), 400, describe(watch));
    const body = await token.json();

    const final = await shown(watch.page);
    assert.deepEqual(states, ['fetching-token', 'error'], describe(watch));
    assert.equal(final.errorSource, 'endpoint', `${JSON.stringify(final)}\n${describe(watch)}`);
    assert.equal(final.errorMessage, body.error);
    assert.equal(final.errorCode, 'prompt_too_long');
    for (const expected of ['prompt_too_long', '400', body.requestId]) {
      assert.ok(final.errorMeta.includes(expected), final.errorMeta);
    }
    assert.ok(
      !watch.requests.some((r) => r.url().startsWith(`${ANAM_API_BASE_URL}/v1/`)),
      `the SDK was started without a token\n${describe(watch)}`,
    );
  });
});

test('a persona the endpoint does not have, asked for with a sign-in token: refused by name', async () => {
  const signIn = unsignedJwt({ sub: 'visitor-1' });
  await onPage('unknown-persona', { query: { persona: 'no-such-persona' } }, async (watch) => {
    assert.equal(await watch.page.locator('#persona').inputValue(), 'no-such-persona');
    await watch.page.locator('#sign-in summary').click();
    await watch.page.fill('#auth-token', signIn);
    const tokenResponse = postTo(watch, ENDPOINT_URL);
    await startAndSettle(watch);
    const token = await tokenResponse;
    assert.deepEqual(token.request().postDataJSON(), { persona: 'no-such-persona' });
    assert.equal((await token.request().allHeaders()).authorization, `Bearer ${signIn}`);

    const final = await shown(watch.page);
    assert.equal(token.status(), 400, describe(watch));
    assert.equal(final.errorCode, 'unknown_persona', JSON.stringify(final));
    assert.equal(final.errorMessage, (await token.json()).error);
  });
});

test("make dev's named personas: the picker offers the variables a visitor fills in, and the rules hold", async () => {
  await onPage('named-personas', {}, async (watch) => {
    const { page } = watch;
    const offered = await page.locator('#persona option').evaluateAll((options) => options.map((o) => o.value));
    assert.deepEqual(offered, ['', 'sales', 'support', 'tutor-fr'], 'the personas local/personas/ seeds');
    await page.selectOption('#persona', 'support');
    assert.equal(await page.locator('#prompt').isDisabled(), true, 'support takes no prompt');
    await page.selectOption('#persona', 'sales');
    // firstName and page come from the visitor; email only from the sign-in token's claim: no input for it.
    const inputs = await page.locator('#variables [data-variable]').evaluateAll((all) => all.map((e) => e.id));
    assert.deepEqual(inputs, ['variable-firstName', 'variable-page']);
    await page.selectOption('#variable-page', 'pricing');

    await page.fill('#variable-firstName', 'Ada <script>');
    const refused = postTo(watch, ENDPOINT_URL);
    await startAndSettle(watch);
    assert.equal((await refused).status(), 400, describe(watch));
    let final = await shown(page);
    assert.equal(final.errorCode, 'invalid_variable', JSON.stringify(final));
    assert.ok(final.errorMessage.includes('firstName'), final.errorMessage);

    await page.fill('#variable-firstName', 'Ada');
    const accepted = postTo(watch, ENDPOINT_URL);
    await startAndSettle(watch);
    const token = await accepted;
    assert.deepEqual(token.request().postDataJSON(), {
      persona: 'sales',
      variables: { firstName: 'Ada', page: 'pricing' },
    });
    assert.equal(token.status(), 200, describe(watch));
    final = await shown(page);
    assert.equal(final.state, 'offline-ready', JSON.stringify(final));
  });
});

test('the page on an origin the endpoint does not allow: CORS refuses it and the page says what to check', async () => {
  // The same page from another origin (another port): the endpoint sends it no CORS headers, so the
  // browser hides the answer and the page can only say that it could not read it, and why that may be.
  const html = await fetch(PAGE_URL).then((r) => r.text());
  const script = await fetch(new URL('main.js', PAGE_URL)).then((r) => r.text());
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (path === '/main.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
    } else if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const otherOrigin = `http://127.0.0.1:${server.address().port}`;
  try {
    await onPage('origin-not-allowed', { pageUrl: `${otherOrigin}/` }, async (watch) => {
      const states = await startAndSettle(watch);
      const final = await shown(watch.page);
      assert.deepEqual(states, ['fetching-token', 'error'], describe(watch));
      assert.equal(final.errorSource, 'network', `${JSON.stringify(final)}\n${describe(watch)}`);
      assert.ok(final.errorMessage.includes(ENDPOINT_URL), final.errorMessage);
      assert.ok(final.errorMessage.includes(`ALLOWED_ORIGINS does not include this page's origin`));
      assert.ok(final.errorMessage.includes(otherOrigin), final.errorMessage);
    });
  } finally {
    server.close();
  }
});

test('the endpoint is down: the page says it could not be reached', async () => {
  await onPage('endpoint-down', { query: { endpoint: DOWN_ENDPOINT_URL } }, async (watch) => {
    const states = await startAndSettle(watch);
    const final = await shown(watch.page);
    assert.deepEqual(states, ['fetching-token', 'error'], describe(watch));
    assert.equal(final.errorSource, 'network', JSON.stringify(final));
    assert.match(final.status, /Could not reach the token endpoint/);
    assert.ok(final.errorMessage.startsWith(`${DOWN_ENDPOINT_URL} could not be reached`), final.errorMessage);
  });
});

test("a visitor past the spend guard's hourly limit: make dev's own 429, with when to come back", async () => {
  // One signed-in visitor (make dev passes the sign-in token's claims on, as the JWT authorizer would), so
  // that this case spends no other case's quota: the caller is the token's sub, not 127.0.0.1.
  const signIn = unsignedJwt({ sub: 'visitor-over-quota' });
  await onPage('quota-exceeded', {}, async (watch) => {
    await clearOfAnHourEnd();
    await watch.page.evaluate(
      async ({ url, token, count }) => {
        for (let i = 0; i < count; i += 1) {
          await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: '{}' });
        }
      },
      { url: ENDPOINT_URL, token: signIn, count: CALLER_SESSIONS_PER_HOUR },
    );
    await watch.page.locator('#sign-in summary').click();
    await watch.page.fill('#auth-token', signIn);
    const tokenResponse = postTo(watch, ENDPOINT_URL);
    const states = await startAndSettle(watch, ['waiting', 'error']);
    const token = await tokenResponse;
    assert.equal(token.status(), 429, describe(watch));

    // A wait, not an error: when to come back, in the visitor's words.
    const final = await shown(watch.page);
    assert.deepEqual(states, ['fetching-token', 'waiting'], describe(watch));
    assert.equal(final.waitCode, 'quota_exceeded', JSON.stringify(final));
    assert.equal(final.status, "You have had this hour's or today's conversations");
    assert.match(final.waitMessage, /^You can start a new conversation in \d+ (seconds|minutes \(\d\d:\d\d UTC\))\.$/);
    assert.equal(final.errorVisible, false, JSON.stringify(final));
    assert.equal(final.waitCountdown, '', 'no waiting room: the hour is not worth counting down');
    assert.doesNotMatch(final.visibleText, /Retry-After|Error/, final.visibleText);
  });
});

// The answers docs/contract.md §3 gives for each refusal a visitor can meet after the persona rules, and
// API Gateway's own, each as the page shows it. The endpoint's answers are played back by the browser.
const REFUSALS = [
  {
    status: 503,
    headers: {},
    body: { error: 'Minting is paused by the operator.', code: 'minting_paused', requestId: 'r3' },
    headline: "Conversations are paused by the site's operator",
    advice: null,
  },
  {
    status: 403,
    headers: {},
    body: { error: 'The human check failed: try it again.', code: 'verification_failed', requestId: 'r4' },
    headline: 'The human check did not pass',
    advice: null,
  },
  {
    status: 401,
    headers: {},
    body: { message: 'Unauthorized' },
    headline: 'Please sign in again',
    advice: null,
  },
  {
    status: 429,
    headers: { 'Retry-After': '2' },
    body: { message: 'Too Many Requests' },
    headline: 'Too many requests right now: slow down',
    advice: /^Try again in 2 seconds\.$/,
  },
];

test('each refusal a visitor can meet is shown as a person wants to read it', async () => {
  await onPage('refusals', {}, async (watch) => {
    for (const refusal of REFUSALS) {
      await watch.page.route(ENDPOINT_URL, (route) =>
        route.fulfill({
          status: refusal.status,
          headers: { 'Content-Type': 'application/json', ...refusal.headers },
          body: JSON.stringify(refusal.body),
        }),
      );
      await startAndSettle(watch);
      await watch.page.unroute(ENDPOINT_URL);

      const final = await shown(watch.page);
      const label = JSON.stringify(refusal.body);
      assert.equal(final.status, `Error: ${refusal.headline}`, label);
      assert.equal(final.errorCode, refusal.body.code || '', label);
      if (refusal.body.error) {
        assert.equal(final.errorMessage, refusal.body.error, label);
      } else {
        assert.ok(final.errorMessage.includes(refusal.body.message), `${label}: ${final.errorMessage}`);
      }
      if (refusal.advice) {
        assert.match(final.errorAdvice, refusal.advice, label);
      } else {
        assert.equal(final.errorAdvice, '', label);
      }
    }
  });
});

// The limits a visitor waits out (docs/contract.md §3, §12), played back by the browser: each is shown as when
// to come back, in the visitor's words, never as an error and never naming the Retry-After header. The
// endpoint's own message is for developers and stays out of the page.
const WAITS = [
  {
    status: 429,
    headers: { 'Retry-After': '720' },
    body: {
      error: 'You have started as many sessions as this site allows for now. Try again after the time in Retry-After.',
      code: 'quota_exceeded',
      requestId: 'w1',
    },
    headline: "You have had this hour's or today's conversations",
    message: /^You can start a new conversation in 12 minutes \(\d\d:\d\d UTC\)\.$/,
  },
  {
    status: 503,
    headers: { 'Retry-After': '7200' },
    body: {
      error: 'This site has used all the avatar time it allows for now. Try again after the time in Retry-After.',
      code: 'budget_exhausted',
      requestId: 'w2',
    },
    headline: 'The avatar is resting: its conversation budget for now is used up',
    message: /^It will be back in 2 hours \(\d\d:\d\d UTC\)\.$/,
  },
  {
    status: 503,
    headers: {},
    body: { error: 'This site has used all the avatar time it allows for now.', code: 'budget_exhausted', requestId: 'w3' },
    headline: 'The avatar is resting: its conversation budget for now is used up',
    message: /^It will be back later\.$/,
  },
];

test('a limit is a wait, not an error: the page says when to come back, in the visitor\'s words', async () => {
  await onPage('waits', {}, async (watch) => {
    for (const wait of WAITS) {
      await watch.page.route(ENDPOINT_URL, (route) =>
        route.fulfill({
          status: wait.status,
          headers: { 'Content-Type': 'application/json', ...wait.headers },
          body: JSON.stringify(wait.body),
        }),
      );
      const states = await startAndSettle(watch, ['waiting', 'error']);
      await watch.page.unroute(ENDPOINT_URL);

      const final = await shown(watch.page);
      const label = JSON.stringify(wait);
      assert.equal(states.at(-1), 'waiting', `${label}\n${describe(watch)}`);
      assert.equal(final.status, wait.headline, label);
      assert.equal(final.waitCode, wait.body.code, label);
      assert.match(final.waitMessage, wait.message, label);
      assert.equal(final.errorVisible, false, label);
      assert.equal(final.waitCountdown, '', `${label}: only sessions_busy is a waiting room`);
      assert.doesNotMatch(final.visibleText, /Retry-After|Error/, `${label}\n${final.visibleText}`);
      assert.equal(await watch.page.locator('#start').isEnabled(), true, `${label}: the visitor may try anyway`);
    }
  });
});

function busyAnswer(retryAfter) {
  return {
    status: 429,
    headers: { 'Content-Type': 'application/json', 'Retry-After': retryAfter },
    body: JSON.stringify({
      error: 'All 2 sessions this site runs at once are taken. Try again after the time in Retry-After.',
      code: 'sessions_busy',
      requestId: 'busy-1',
    }),
  };
}

test('sessions_busy is a waiting room: how long, a visible count-down, then the page tries again by itself', async () => {
  await onPage('waiting-room', {}, async (watch) => {
    const { page } = watch;
    let answered = 0;
    const posted = [];
    // The first ask meets a full house; the retry goes through to make dev.
    await page.route(ENDPOINT_URL, async (route) => {
      posted.push(Date.now());
      answered += 1;
      if (answered === 1) {
        await route.fulfill(busyAnswer('3'));
      } else {
        await route.continue();
      }
    });
    const before = watch.states.length;
    await page.click('#start');
    await waitForState(watch, 'waiting');

    const waiting = await shown(page);
    assert.equal(waiting.status, 'All our hosts are busy', JSON.stringify(waiting));
    assert.equal(waiting.waitCode, 'sessions_busy');
    assert.match(waiting.waitMessage, /busy/);
    assert.match(waiting.waitMessage, /We will try again in 3 seconds\.$/, waiting.waitMessage);
    assert.match(waiting.waitCountdown, /^Trying again in [123] s…$/, waiting.waitCountdown);
    assert.doesNotMatch(waiting.visibleText, /Retry-After|Error/, waiting.visibleText);
    // The count-down counts: a second later it shows less.
    const first = Number(await page.locator('#wait-countdown').getAttribute('data-seconds-left'));
    await page.waitForFunction(
      (seconds) => Number(document.getElementById('wait-countdown').dataset.secondsLeft) < seconds,
      first,
      { timeout: 3000 },
    );

    // No click: the page asks again when the count-down ends, and this time gets its session.
    await waitForState(watch, 'offline-ready');
    assert.equal(posted.length, 2, describe(watch));
    assert.ok(posted[1] - posted[0] >= 2500, `retried after ${posted[1] - posted[0]} ms, not 3 s`);
    assert.deepEqual(
      watch.states.slice(before),
      ['fetching-token', 'waiting', 'fetching-token', 'connecting', 'offline-ready'],
      describe(watch),
    );
    assert.equal((await shown(page)).waitVisible, false);
  });
});

test('Stop leaves the waiting room: the page does not try again', async () => {
  await onPage('waiting-room-stop', {}, async (watch) => {
    const { page } = watch;
    let asked = 0;
    await page.route(ENDPOINT_URL, async (route) => {
      asked += 1;
      await route.fulfill(busyAnswer('1'));
    });
    await page.click('#start');
    await waitForState(watch, 'waiting');
    assert.equal(await page.locator('#stop').isEnabled(), true, 'Stop is not offered in the waiting room');
    await page.click('#stop');
    await waitForState(watch, 'idle');
    await page.waitForTimeout(2000);
    assert.equal(asked, 1, describe(watch));
    assert.equal((await shown(page)).waitCountdown, '');
  });
});

/**
 * Answer the page's POSTs to the token endpoint with make dev's own token answer, plus `extra` fields (or
 * without those named with undefined): what the endpoint will send once the backend gives them.
 */
async function withAnswerFields(page, fieldsForEachCall) {
  let call = 0;
  await page.route(ENDPOINT_URL, async (route) => {
    const extra = fieldsForEachCall[Math.min(call, fieldsForEachCall.length - 1)];
    call += 1;
    const response = await route.fetch();
    const body = { ...(await response.json()), ...extra };
    await route.fulfill({ response, json: JSON.parse(JSON.stringify(body)) });
  });
}

/**
 * A token endpoint of the test's own, in front of make dev: it passes POST /session-token on and adds an
 * `endHandle` to each token (handle-1, handle-2, ...), and records what reaches its /session-ended. A beacon
 * sent while the page unloads is out of Playwright's sight: only a server sees it.
 */
async function recordingEndpoint(pageOrigin) {
  const ends = [];
  let minted = 0;
  const cors = { 'Access-Control-Allow-Origin': pageOrigin, 'Access-Control-Allow-Credentials': 'true' };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...cors,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization',
      });
      res.end();
    } else if (path === '/session-token') {
      const headers = { 'Content-Type': 'application/json' };
      if (req.headers.authorization) headers.Authorization = req.headers.authorization;
      const answer = await fetch(ENDPOINT_URL, { method: 'POST', headers, body });
      const token = await answer.json();
      if (answer.ok) {
        minted += 1;
        token.endHandle = `handle-${minted}`;
      }
      res.writeHead(answer.status, { ...cors, 'Content-Type': 'application/json' }).end(JSON.stringify(token));
    } else if (path === '/session-ended') {
      ends.push({ method: req.method, contentType: req.headers['content-type'] || '', body });
      res.writeHead(204, cors).end();
    } else {
      res.writeHead(404, cors).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/session-token`, ends, close: () => server.close() };
}

async function waitForEnds(watch, ends, count) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (ends.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // A moment more, to see that no second beacon follows.
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(ends.length, count, `${JSON.stringify(ends)}\n${describe(watch)}`);
}

test("a session counts down from the token's maxSessionLengthSeconds, and shows no countdown without it", async () => {
  const signIn = unsignedJwt({ sub: 'visitor-with-a-cap' });
  await onPage('session-countdown', {}, async (watch) => {
    const { page } = watch;
    await page.locator('#sign-in summary').click();
    await page.fill('#auth-token', signIn);
    await withAnswerFields(page, [{ maxSessionLengthSeconds: 90 }, { maxSessionLengthSeconds: undefined }]);

    await startAndSettle(watch);
    let final = await shown(page);
    assert.equal(final.state, 'offline-ready', describe(watch));
    assert.match(final.sessionCountdown, /^Time left in this session: 1:[23]\d$/, final.sessionCountdown);
    const first = final.sessionSecondsLeft;
    assert.ok(first <= 90 && first >= 80, String(first));
    await page.waitForFunction(
      (seconds) => Number(document.getElementById('session-countdown').dataset.secondsLeft) < seconds,
      first,
      { timeout: 3000 },
    );
    await page.click('#stop');
    await waitForState(watch, 'idle');
    assert.equal((await shown(page)).sessionCountdown, '', 'the countdown outlived the session');

    await startAndSettle(watch); // the endpoint does not know the cap: no countdown
    final = await shown(page);
    assert.equal(final.state, 'offline-ready', describe(watch));
    assert.equal(final.sessionCountdown, '', final.sessionCountdown);
  });
});

test('the end handle goes to /session-ended as text/plain, once per session: on Stop, page hidden, page hide', async () => {
  const recorder = await recordingEndpoint(new URL(PAGE_URL).origin);
  const signIn = unsignedJwt({ sub: 'visitor-who-leaves' });
  const { ends } = recorder;
  try {
    await onPage('session-ended', { query: { endpoint: recorder.url } }, async (watch) => {
      const { page } = watch;
      await page.locator('#sign-in summary').click();
      await page.fill('#auth-token', signIn);

      // 1: Stop.
      await startAndSettle(watch);
      assert.equal(ends.length, 0, 'told before the session ended');
      await page.click('#stop');
      await waitForEnds(watch, ends, 1);

      // 2: the page is hidden (another tab, the phone locked), twice, then Stop: still one.
      await startAndSettle(watch);
      for (let i = 0; i < 2; i += 1) {
        await page.evaluate(() => {
          Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
          document.dispatchEvent(new Event('visibilitychange'));
          delete document.visibilityState;
        });
      }
      await waitForEnds(watch, ends, 2);
      await page.click('#stop');
      await waitForEnds(watch, ends, 2);

      // 3: the visitor leaves the page: the browser sends the beacon as the page unloads.
      await startAndSettle(watch);
      await page.goto('about:blank');
      await waitForEnds(watch, ends, 3);
    });
  } finally {
    recorder.close();
  }
  assert.deepEqual(
    ends.map((end) => end.body),
    ['handle-1', 'handle-2', 'handle-3'],
  );
  for (const end of ends) {
    assert.equal(end.method, 'POST');
    assert.match(end.contentType, /^text\/plain/);
  }
});

test("the SDK's connection-closed event ends the session too (a real, not offline, page)", async () => {
  const recorder = await recordingEndpoint(new URL(PAGE_URL).origin);
  try {
    // offline=0: the stand-in's missing signalling server is then a closed connection, as Anam's would be.
    await onPage('session-ended-on-close', { query: { offline: '0', endpoint: recorder.url } }, async (watch) => {
      await watch.page.locator('#sign-in summary').click();
      await watch.page.fill('#auth-token', unsignedJwt({ sub: 'visitor-closed' }));
      await startAndSettle(watch);
      const final = await shown(watch.page);
      assert.equal(final.errorSource, 'connection', JSON.stringify(final));
      await waitForEnds(watch, recorder.ends, 1);
      assert.ok(
        watch.console.some((line) => line.includes('session ended (connection closed:')),
        describe(watch),
      );
    });
  } finally {
    recorder.close();
  }
  assert.deepEqual(recorder.ends.map((end) => end.body), ['handle-1']);
});

// make dev's own answer: the contract's maxSessionLengthSeconds and endHandle (§3, §12) are being added to the
// backend. Until then this case checks what the page does without them; with EXPECT_SESSION_FIELDS=1 their
// absence fails it.
test("make dev's own token answer: its cap counted down, its end handle told to make dev's /session-ended", async () => {
  const signIn = unsignedJwt({ sub: 'visitor-of-make-dev' });
  await onPage('make-dev-session-fields', {}, async (watch) => {
    const { page } = watch;
    await page.locator('#sign-in summary').click();
    await page.fill('#auth-token', signIn);
    const tokenResponse = postTo(watch, ENDPOINT_URL);
    await startAndSettle(watch);
    const body = await (await tokenResponse).json();
    if (EXPECT_SESSION_FIELDS) {
      assert.ok(Number.isInteger(body.maxSessionLengthSeconds), JSON.stringify(Object.keys(body)));
      assert.equal(typeof body.endHandle, 'string', JSON.stringify(Object.keys(body)));
    }

    const final = await shown(page);
    assert.equal(final.state, 'offline-ready', describe(watch));
    if (body.maxSessionLengthSeconds) {
      assert.ok(final.sessionSecondsLeft <= body.maxSessionLengthSeconds, JSON.stringify(final));
      assert.ok(final.sessionSecondsLeft >= body.maxSessionLengthSeconds - 10, JSON.stringify(final));
    } else {
      assert.equal(final.sessionCountdown, '', 'a countdown without a cap');
    }

    const ended = page.waitForRequest(SESSION_ENDED_URL, { timeout: 3000 }).catch(() => null);
    await page.click('#stop');
    const beacon = await ended;
    if (body.endHandle) {
      assert.ok(beacon, `no beacon to ${SESSION_ENDED_URL}\n${describe(watch)}`);
      assert.equal(beacon.postData(), body.endHandle);
      assert.equal((await beacon.response())?.status(), 204, 'make dev did not take the handle');
    } else {
      assert.equal(beacon, null, 'a beacon without a handle');
    }
  });
});

test('with a Turnstile site key the page renders the widget and sends its token', async () => {
  const options = {
    query: { turnstileSiteKey: TURNSTILE_TEST_SITE_KEY },
    fakes: { [TURNSTILE_SCRIPT]: TURNSTILE_STAND_IN },
  };
  await onPage('turnstile', options, async (watch) => {
    const widget = watch.page.locator('#turnstile');
    await widget.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    assert.equal(await widget.getAttribute('data-sitekey'), TURNSTILE_TEST_SITE_KEY);
    const tokenResponse = postTo(watch, ENDPOINT_URL);
    await watch.page.click('#start');
    const token = await tokenResponse;
    assert.deepEqual(token.request().postDataJSON(), { turnstileToken: TURNSTILE_TEST_TOKEN });
  });
});

test('the built page opened from disk says to run make dev instead', async () => {
  await onPage('from-disk', { pageUrl: pathToFileURL(PAGE_FILE).href, ready: null }, async (watch) => {
    const notice = watch.page.locator('#not-running');
    assert.equal(await notice.isVisible(), true);
    assert.match(await notice.textContent(), /make dev/);
    assert.equal(await watch.page.locator('#start').isDisabled(), true);
    watch.pageErrors.length = 0; // Chromium's refusal to run a module script from file:// is the point here
  });
});
