// Browser test of the example page against `make dev`: the limits a visitor waits out (a wait, not an error;
// the waiting room of sessions_busy), and a session's countdown and end beacon (docs/contract.md §3, §12).
// What make dev cannot answer yet (the backend is adding maxSessionLengthSeconds and endHandle) is played back
// onto make dev's own answers; one case reads make dev's own answer (EXPECT_SESSION_FIELDS, harness.mjs).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import {
  ENDPOINT_URL,
  EXPECT_SESSION_FIELDS,
  PAGE_URL,
  SESSION_ENDED_URL,
  STEP_TIMEOUT_MS,
  TURNSTILE_SCRIPT,
  TURNSTILE_TEST_SITE_KEY,
  TURNSTILE_TEST_TOKEN,
  describe,
  onPage,
  postTo,
  shown,
  startAndSettle,
  turnstileStandIn,
  unsignedJwt,
  waitForState,
} from './harness.mjs';

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

test('with the human check on, the waiting room tries again once the check has given a new token', async () => {
  const options = {
    query: { turnstileSiteKey: TURNSTILE_TEST_SITE_KEY },
    fakes: { [TURNSTILE_SCRIPT]: turnstileStandIn(2500) }, // a new token 2.5 s after each use
  };
  await onPage('waiting-room-human-check', options, async (watch) => {
    const { page } = watch;
    const bodies = [];
    await page.route(ENDPOINT_URL, async (route) => {
      bodies.push(route.request().postDataJSON());
      if (bodies.length === 1) {
        await route.fulfill(busyAnswer('1'));
      } else {
        await route.continue();
      }
    });
    await page.locator('#turnstile[data-sitekey]').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.waitForTimeout(100); // the stand-in's first token
    await page.click('#start');
    await waitForState(watch, 'waiting');

    // The count-down is over before the check has a new token: the page waits for it, then asks.
    await page.locator('#wait-countdown', { hasText: 'human check' }).waitFor({ timeout: STEP_TIMEOUT_MS });
    assert.equal(bodies.length, 1, describe(watch));
    await waitForState(watch, 'offline-ready');
    assert.deepEqual(bodies, [{ turnstileToken: TURNSTILE_TEST_TOKEN }, { turnstileToken: TURNSTILE_TEST_TOKEN }]);
    assert.ok(!watch.states.includes('error'), describe(watch));
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
