// Minimal browser client for the token vendor: POST /session-token, then start the avatar with Anam's SDK.
//
// Configuration, each from the query string first, then from the `#page-config` element that `make dev` adds
// to the page it serves (local/web_page.py), then the default:
//   endpoint          the token endpoint (default http://127.0.0.1:3000/session-token, i.e. `make dev`)
//   anamApiBaseUrl    only when present: the Anam API base URL the SDK talks to instead of https://api.anam.ai
//                     (`make dev` offline: its Anam stand-in)
//   persona           the named persona to ask for (the picker lists the personas `make dev` seeded)
//   turnstileSiteKey  when present: render Cloudflare's Turnstile widget and send its token
//   offline           `make dev` without ANAM_API_KEY: the stand-in has no avatar video, so a session the SDK
//                     started is this page's success state
//
// A limit is a wait, not an error (waits.js); a session shows its time left and tells the endpoint when it
// ends (session.js).
import { AnamEvent, ConnectionClosedCode, createClient } from '@anam-ai/js-sdk';
// Not part of the SDK's public entry point; used only when anamApiBaseUrl is given (see sdkOptions()).
import { setClientMetricsDisabled } from '@anam-ai/js-sdk/dist/module/lib/ClientMetrics';
import { Countdown, clock } from './countdown.js';
import { humanCheck } from './human-check.js';
import { showPersonas } from './personas.js';
import { sessionEnd, sessionEndedUrl } from './session.js';
import { WAITS, describeRetryAfter, retryDelaySeconds } from './waits.js';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:3000/session-token';
const FETCH_TIMEOUT_MS = 15000;
const VIDEO_ELEMENT_ID = 'avatar-video';

function readConfig() {
  const element = document.getElementById('page-config');
  let served = {};
  try {
    served = element ? JSON.parse(element.textContent) : {};
  } catch {
    served = {};
  }
  const params = new URLSearchParams(window.location.search);
  const pick = (name) => params.get(name) || served[name] || '';
  const anamApiBaseUrl = pick('anamApiBaseUrl').replace(/\/+$/, '');
  return {
    endpoint: pick('endpoint') || DEFAULT_ENDPOINT,
    anamApiBaseUrl,
    persona: pick('persona'),
    turnstileSiteKey: pick('turnstileSiteKey'),
    offline: params.has('offline') ? params.get('offline') !== '0' : Boolean(served.offline),
    personas: Array.isArray(served.personas) ? served.personas : [],
  };
}

const config = readConfig();

const ui = {
  notRunning: document.getElementById('not-running'),
  form: document.getElementById('start-form'),
  personaField: document.getElementById('persona-field'),
  persona: document.getElementById('persona'),
  variables: document.getElementById('variables'),
  prompt: document.getElementById('prompt'),
  authToken: document.getElementById('auth-token'),
  turnstile: document.getElementById('turnstile'),
  start: document.getElementById('start'),
  stop: document.getElementById('stop'),
  status: document.getElementById('status'),
  tokenInfo: document.getElementById('token-info'),
  error: document.getElementById('error'),
  errorMessage: document.getElementById('error-message'),
  errorAdvice: document.getElementById('error-advice'),
  errorMeta: document.getElementById('error-meta'),
  wait: document.getElementById('wait'),
  waitMessage: document.getElementById('wait-message'),
  waitCountdown: document.getElementById('wait-countdown'),
  sessionCountdown: document.getElementById('session-countdown'),
  endpoint: document.getElementById('endpoint-url'),
  anamApi: document.getElementById('anam-api-url'),
  anamApiLine: document.getElementById('anam-api'),
  offlineNote: document.getElementById('offline-note'),
};

const STATE_TEXT = {
  idle: 'Idle',
  'fetching-token': 'Fetching a session token…',
  connecting: 'Connecting to the avatar…',
  connected: 'Connected, waiting for the video…',
  streaming: 'Streaming',
  'offline-ready':
    'Offline check passed: the token was received and the Anam SDK accepted it. ' +
    'Offline: no avatar stream; set ANAM_API_KEY for a real one.',
  waiting: 'Not now',
  error: 'Error',
};
const SESSION_STATES = ['connected', 'streaming', 'offline-ready'];

const CLOSED_TEXT = {
  [ConnectionClosedCode.SIGNALLING_CLIENT_CONNECTION_FAILURE]: "Could not connect to Anam's signalling server.",
  [ConnectionClosedCode.WEBRTC_FAILURE]: 'The media (WebRTC) connection to the avatar failed.',
  [ConnectionClosedCode.MICROPHONE_PERMISSION_DENIED]: 'Microphone access was denied: allow it and start again.',
  [ConnectionClosedCode.SERVER_CLOSED_CONNECTION]: 'Anam ended the session.',
};

// What a visitor reads first for each refusal the endpoint can give (its `error` message follows). Codes as
// in docs/contract.md §3; the limits a visitor waits out are in waits.js.
const ENDPOINT_HEADLINES = {
  minting_paused: "Conversations are paused by the site's operator",
  verification_failed: 'The human check did not pass',
  unauthenticated: 'Please sign in again',
  direct_access_refused: 'This page calls the token service at the wrong address',
  rate_limited: 'Anam is busy right now',
  dependency_unavailable: 'The service is briefly unavailable',
  upstream_timeout: 'Anam took too long to answer',
};
// API Gateway's own answers carry no `code`, only `{"message": ...}`: tell them apart by status.
const GATEWAY_HEADLINES = {
  401: 'Please sign in again',
  403: 'The endpoint refused this request',
  429: 'Too many requests right now: slow down',
  500: 'The endpoint failed',
  503: 'The endpoint is unavailable',
  504: 'The endpoint took too long to answer',
};

let client = null;
let stopping = false;
let offlineSessionId = ''; // offline: the stand-in's session, which Stop ends (see stop())
let session = null; // the session of the last token: { maxSeconds, end(why) }

const sessionCountdown = new Countdown(ui.sessionCountdown, (left) =>
  left ? `Time left in this session: ${clock(left)}` : "This session has reached its time limit.",
);
// The waiting room: when the count-down ends, the page asks again by itself.
const retryCountdown = new Countdown(ui.waitCountdown, (left) => `Trying again in ${left} s…`, retryNow);
let humanCheckWait = null; // the waiting room's retry, held until the human check has a new token

function retryNow() {
  humanCheckWait = null;
  if (config.turnstileSiteKey && !humanCheck.token) {
    ui.waitCountdown.textContent = 'Trying again as soon as the human check is done…';
    humanCheckWait = setTimeout(retryNow, 250);
    return;
  }
  void start(promptFromForm());
}

function cancelRetry() {
  retryCountdown.stop();
  clearTimeout(humanCheckWait);
  humanCheckWait = null;
}

/** An error answer (or no usable answer) from the token endpoint. */
class EndpointError extends Error {
  constructor(message, { code = '', status = 0, requestId = '', retryAfter = '', headline = '' } = {}) {
    super(message);
    this.name = 'EndpointError';
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.headline = headline;
  }
}

function setState(state, text = STATE_TEXT[state]) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  const busy = state === 'fetching-token' || state === 'connecting';
  const live = state === 'connecting' || state === 'connected' || state === 'streaming';
  ui.start.disabled = busy || live;
  const retrying = retryCountdown.running || humanCheckWait !== null;
  ui.stop.disabled = !live && !(state === 'offline-ready' && offlineSessionId) && !retrying;
  if (state !== 'error') {
    ui.error.hidden = true;
  }
  if (state !== 'waiting') {
    ui.wait.hidden = true;
    cancelRetry();
    retryCountdown.hide();
  }
  if (!SESSION_STATES.includes(state)) {
    sessionCountdown.hide();
  } else if (session && session.maxSeconds && !sessionCountdown.running && ui.sessionCountdown.hidden) {
    sessionCountdown.start(session.maxSeconds); // the session has started: its cap counts from now
  }
  console.info(`[anam-example] state: ${state}`);
}

/** A limit the visitor waits out (waits.js): when to come back, and for sessions_busy the waiting room. */
function showWait(err) {
  const wait = WAITS[err.code];
  const retrySeconds = wait.retries ? retryDelaySeconds(err.retryAfter) : 0;
  const when = describeRetryAfter(retrySeconds ? String(retrySeconds) : err.retryAfter);
  ui.wait.dataset.code = err.code;
  ui.waitMessage.textContent = wait.message(when);
  if (retrySeconds) {
    retryCountdown.start(retrySeconds);
  }
  setState('waiting', wait.headline);
  ui.wait.hidden = false;
  console.info(`[anam-example] waiting (${err.code}): ${when || 'no Retry-After'} [request ${err.requestId}]`);
}

/**
 * Show an error. source: "endpoint" (the token endpoint's error answer), "network" (the endpoint could not be
 * reached), "verification" (the human check is not done), "sdk" (the Anam SDK threw or rejected) or
 * "connection" (the SDK closed the connection).
 */
function showError(source, message, meta = {}) {
  const headline =
    meta.headline ||
    {
      endpoint: 'The token endpoint refused the request',
      network: 'Could not reach the token endpoint',
      verification: 'Complete the human check first',
      sdk: 'The Anam SDK reported an error',
      connection: 'The avatar connection closed',
    }[source];
  setState('error', `Error: ${headline}`);
  ui.error.hidden = false;
  ui.error.dataset.source = source;
  ui.error.dataset.code = meta.code || '';
  ui.errorMessage.textContent = message;
  const retry = describeRetryAfter(meta.retryAfter);
  ui.errorAdvice.textContent = retry ? `Try again ${retry}.` : '';
  ui.errorAdvice.hidden = !retry;
  ui.errorMeta.replaceChildren();
  const parts = [];
  if (meta.code) parts.push(['code', meta.code]);
  if (meta.status) parts.push(['HTTP', String(meta.status)]);
  if (meta.requestId) parts.push(['request id', meta.requestId]);
  if (meta.cause) parts.push(['cause', meta.cause]);
  parts.forEach(([label, value], index) => {
    if (index > 0) ui.errorMeta.append(' · ');
    const code = document.createElement('code');
    code.textContent = value;
    ui.errorMeta.append(`${label}: `, code);
  });
  console.info(`[anam-example] error (${source}): ${message}${meta.code ? ` [${meta.code}]` : ''}`);
}

function unreachableMessage(reason) {
  const sameOrigin = new URL(config.endpoint, window.location.href).origin === window.location.origin;
  const why = sameOrigin
    ? 'is the server running?'
    : `it is down, the URL is wrong, or its ALLOWED_ORIGINS does not include this page's origin ` +
      `(${window.location.origin}), so the browser hid its answer`;
  return `${config.endpoint} could not be reached (${reason}): ${why}.`;
}

function requestBody(prompt) {
  const body = {};
  if (prompt) body.prompt = prompt;
  if (ui.persona.value) body.persona = ui.persona.value;
  const variables = {};
  for (const input of ui.variables.querySelectorAll('[data-variable]')) {
    if (input.value) variables[input.dataset.variable] = input.value;
  }
  if (Object.keys(variables).length) body.variables = variables;
  if (humanCheck.token) body.turnstileToken = humanCheck.token;
  return body;
}

async function fetchSessionToken(body) {
  const headers = { 'Content-Type': 'application/json' };
  const signIn = ui.authToken.value.trim();
  if (signIn) {
    headers.Authorization = `Bearer ${signIn}`;
  }
  let response;
  try {
    response = await fetch(config.endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (err) {
    // A browser hides why: the server is down, the URL is wrong, or CORS refused this page's origin.
    const reason = err && err.name === 'TimeoutError' ? 'timed out' : 'network error or CORS refusal';
    throw new EndpointError(unreachableMessage(reason), { code: 'network_error' });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  // Readable across origins because the function lists it in Access-Control-Expose-Headers.
  const retryAfter = response.headers.get('Retry-After') || '';
  if (!response.ok) {
    if (data && typeof data.error === 'string') {
      const code = typeof data.code === 'string' ? data.code : '';
      throw new EndpointError(data.error, {
        code,
        status: response.status,
        requestId: typeof data.requestId === 'string' ? data.requestId : '',
        retryAfter,
        headline: ENDPOINT_HEADLINES[code] || '',
      });
    }
    const said = data && typeof data.message === 'string' ? `: "${data.message}"` : ' without a JSON error';
    throw new EndpointError(`The endpoint's gateway answered HTTP ${response.status}${said}.`, {
      status: response.status,
      retryAfter,
      headline: GATEWAY_HEADLINES[response.status] || '',
    });
  }
  if (!data || typeof data.sessionToken !== 'string' || !data.sessionToken) {
    throw new EndpointError('The token endpoint answered 200 without a sessionToken.', {
      status: response.status,
    });
  }
  return data;
}

function startSession(token) {
  const seconds = Number(token.maxSessionLengthSeconds);
  session = {
    maxSeconds: Number.isInteger(seconds) && seconds > 0 ? seconds : 0, // absent: no countdown
    end: sessionEnd(sessionEndedUrl(config.endpoint, window.location.href), token.endHandle),
  };
}

/** A session is over for this page: tell the endpoint (once) and, if it is the current one, stop its countdown. */
function endSession(why, ended = session) {
  if (ended) {
    ended.end(why);
  }
  if (ended === session) {
    sessionCountdown.hide();
  }
}

function showTokenInfo(token) {
  const expires = typeof token.expiresAt === 'string' ? token.expiresAt : '';
  ui.tokenInfo.dataset.expiresAt = expires;
  ui.tokenInfo.textContent = expires
    ? `Session token received; it expires at ${expires.replace('T', ' ').replace('Z', ' UTC')}.`
    : 'Session token received (it carries no expiry).';
  ui.tokenInfo.hidden = false;
}

function sdkOptions() {
  if (!config.anamApiBaseUrl) {
    return undefined; // production: the SDK's defaults (https://api.anam.ai)
  }
  // Offline/test mode: the SDK's REST calls go to the stand-in, and its telemetry is switched off (the
  // stand-in has no metrics endpoint). The SDK applies these options only after validating the token, so an
  // error thrown by that validation (e.g. a legacy token) would still be reported to https://api.anam.ai;
  // switching the telemetry off before createClient keeps this mode from reaching anything but the stand-in.
  setClientMetricsDisabled(true);
  return {
    api: { baseUrl: config.anamApiBaseUrl },
    metrics: { disableClientMetrics: true },
  };
}

function describeSdkError(err) {
  const cause = err && err.details && err.details.cause;
  return {
    message: (err && err.message) || String(err),
    code: (err && err.code) || '',
    cause: typeof cause === 'string' && cause !== err.message ? cause : '',
  };
}

async function start(prompt) {
  stopping = false;
  cancelRetry();
  endSession('a new session'); // the page holds one session at a time
  ui.tokenInfo.hidden = true;
  if (config.turnstileSiteKey && !humanCheck.token) {
    showError('verification', 'The human check has not given this page a token yet: complete it, then start.');
    return;
  }
  setState('fetching-token');
  let token;
  try {
    token = await fetchSessionToken(requestBody(prompt));
  } catch (err) {
    if (WAITS[err.code]) {
      showWait(err);
    } else {
      showError(err.code === 'network_error' ? 'network' : 'endpoint', err.message, err);
    }
    return;
  } finally {
    humanCheck.reset(); // a Turnstile token is good for one verification
  }
  showTokenInfo(token);
  startSession(token);
  const ownSession = session; // what this client's events end, even once a later Start has begun another

  let started;
  try {
    // Anam's SDK (3.0 and later) takes only the token: the persona was fixed when the server minted it.
    started = createClient(token.sessionToken, sdkOptions());
  } catch (err) {
    const { message, code, cause } = describeSdkError(err);
    endSession('the SDK refused the token', ownSession);
    showError('sdk', message, { code, cause });
    return;
  }
  client = started;

  started.addListener(AnamEvent.CONNECTION_ESTABLISHED, () => setState('connected'));
  started.addListener(AnamEvent.VIDEO_PLAY_STARTED, () => setState('streaming'));
  started.addListener(AnamEvent.CONNECTION_CLOSED, (code, details) => {
    // Offline the stand-in starts the engine session (the SDK accepted the token) but has no signalling
    // server: that is as far as an integration can be checked without a real Anam key. The stand-in's
    // session goes on until Stop.
    const sessionId = started.getActiveSessionId();
    const offlineReady =
      !stopping &&
      config.offline &&
      code === ConnectionClosedCode.SIGNALLING_CLIENT_CONNECTION_FAILURE &&
      Boolean(sessionId);
    if (!offlineReady) {
      endSession(`connection closed: ${code}`, ownSession);
    }
    if (stopping || code === ConnectionClosedCode.NORMAL) {
      return;
    }
    if (offlineReady) {
      offlineSessionId = sessionId;
      ui.tokenInfo.textContent += ` The SDK started session ${sessionId} with it.`;
      setState('offline-ready');
      return;
    }
    showError('connection', CLOSED_TEXT[code] || 'The connection to the avatar closed.', {
      code,
      cause: typeof details === 'string' ? details : '',
    });
  });

  setState('connecting');
  try {
    await started.streamToVideoElement(VIDEO_ELEMENT_ID);
  } catch (err) {
    const { message, code, cause } = describeSdkError(err);
    endSession('the SDK failed', ownSession);
    showError('sdk', message, { code, cause });
  }
}

async function stop() {
  stopping = true;
  cancelRetry();
  endSession('stop');
  const current = client;
  client = null;
  if (current) {
    try {
      await current.stopStreaming();
    } catch (err) {
      console.warn('[anam-example] stopStreaming failed', err);
    }
  }
  await endOfflineSession();
  setState('idle', 'Stopped');
}

// Offline only: tell the Anam stand-in the session ended, so that its session list reports its length for
// `make reconcile`. The real SDK ends a session by closing its signalling WebSocket, which the stand-in never
// opens: this route is the stand-in's own, not Anam's.
async function endOfflineSession() {
  const sessionId = offlineSessionId;
  offlineSessionId = '';
  if (!config.offline || !config.anamApiBaseUrl || !sessionId) {
    return;
  }
  try {
    await fetch(`${config.anamApiBaseUrl}/standin/session/stop`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sessionId }),
    });
  } catch (err) {
    console.warn('[anam-example] the stand-in did not hear the stop', err);
  }
}

ui.notRunning.hidden = true;
ui.endpoint.textContent = config.endpoint;
if (config.anamApiBaseUrl) {
  ui.anamApi.textContent = config.anamApiBaseUrl;
  ui.anamApiLine.hidden = false;
}
ui.offlineNote.hidden = !config.offline;
showPersonas(ui, config);
humanCheck.show(ui.turnstile, config.turnstileSiteKey, (script) =>
  showError('verification', `The human check (${script}) could not be loaded.`),
);

function promptFromForm() {
  return ui.prompt.disabled ? '' : ui.prompt.value.trim();
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void start(promptFromForm());
});
ui.stop.addEventListener('click', () => void stop());
// A visitor who closes the tab or moves away ends the session as far as this page is concerned: tell the
// endpoint while the page can (a hidden page may never be shown again, or be discarded without an unload).
window.addEventListener('pagehide', () => endSession('page hidden'));
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') {
    endSession('page hidden');
  }
});
setState('idle');
