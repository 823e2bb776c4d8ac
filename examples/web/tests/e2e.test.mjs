// Browser test of the example page as docs/local-development.md tells a person to use it: `make dev`, then
// the page at the URL it prints. The success state, and each error state a person can meet. The set-up, the
// environment it needs and the rule that nothing leaves 127.0.0.1 are in harness.mjs.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import {
  ANAM_API_BASE_URL,
  CALLER_SESSIONS_PER_HOUR,
  DOWN_ENDPOINT_URL,
  ENDPOINT_URL,
  LEGACY_ANAM_API_BASE_URL,
  LEGACY_ENDPOINT_URL,
  LEGACY_MESSAGE,
  PAGE_FILE,
  PAGE_URL,
  PROMPT_MAX_CHARS,
  STEP_TIMEOUT_MS,
  TURNSTILE_SCRIPT,
  TURNSTILE_STAND_IN,
  TURNSTILE_TEST_SITE_KEY,
  TURNSTILE_TEST_TOKEN,
  clearOfAnHourEnd,
  decodeJwtPayload,
  describe,
  onPage,
  postTo,
  shown,
  startAndSettle,
  unsignedJwt,
  waitForState,
} from './harness.mjs';

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
