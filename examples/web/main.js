// Minimal browser client for the token vendor: POST /session-token, then start the avatar with Anam's SDK.
//
// Query parameters:
//   ?endpoint=URL         the token endpoint (default http://127.0.0.1:3000/session-token, i.e. `make dev`)
//   ?anamApiBaseUrl=URL   only when present: the Anam API base URL the SDK talks to instead of
//                         https://api.anam.ai (the tests point it at the local Anam stand-in)
import { AnamEvent, ConnectionClosedCode, createClient } from '@anam-ai/js-sdk';
// Not part of the SDK's public entry point; used only when ?anamApiBaseUrl= is given (see sdkOptions()).
import { setClientMetricsDisabled } from '@anam-ai/js-sdk/dist/module/lib/ClientMetrics';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:3000/session-token';
const FETCH_TIMEOUT_MS = 15000;
const VIDEO_ELEMENT_ID = 'avatar-video';

const params = new URLSearchParams(window.location.search);
const endpoint = params.get('endpoint') || DEFAULT_ENDPOINT;
const anamApiBaseUrl = (params.get('anamApiBaseUrl') || '').replace(/\/+$/, '');

const ui = {
  form: document.getElementById('start-form'),
  prompt: document.getElementById('prompt'),
  start: document.getElementById('start'),
  stop: document.getElementById('stop'),
  status: document.getElementById('status'),
  error: document.getElementById('error'),
  errorMessage: document.getElementById('error-message'),
  errorMeta: document.getElementById('error-meta'),
  endpoint: document.getElementById('endpoint-url'),
  anamApi: document.getElementById('anam-api-url'),
  anamApiLine: document.getElementById('anam-api'),
};

const STATE_TEXT = {
  idle: 'Idle',
  'fetching-token': 'Fetching a session token…',
  connecting: 'Connecting to the avatar…',
  connected: 'Connected, waiting for the video…',
  streaming: 'Streaming',
  error: 'Error',
};

const CLOSED_TEXT = {
  [ConnectionClosedCode.SIGNALLING_CLIENT_CONNECTION_FAILURE]: "Could not connect to Anam's signalling server.",
  [ConnectionClosedCode.WEBRTC_FAILURE]: 'The media (WebRTC) connection to the avatar failed.',
  [ConnectionClosedCode.MICROPHONE_PERMISSION_DENIED]: 'Microphone access was denied: allow it and start again.',
  [ConnectionClosedCode.SERVER_CLOSED_CONNECTION]: 'Anam ended the session.',
};

let client = null;
let stopping = false;

/** An error answer (or no usable answer) from the token endpoint. */
class EndpointError extends Error {
  constructor(message, { code = '', status = 0, requestId = '' } = {}) {
    super(message);
    this.name = 'EndpointError';
    this.code = code;
    this.status = status;
    this.requestId = requestId;
  }
}

function setState(state, text = STATE_TEXT[state]) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  const busy = state === 'fetching-token' || state === 'connecting';
  const live = state === 'connecting' || state === 'connected' || state === 'streaming';
  ui.start.disabled = busy || live;
  ui.stop.disabled = !live;
  if (state !== 'error') {
    ui.error.hidden = true;
  }
  console.info(`[anam-example] state: ${state}`);
}

/**
 * Show an error. source: "endpoint" (the token endpoint's error answer), "network" (the endpoint could not be
 * reached), "sdk" (the Anam SDK threw or rejected) or "connection" (the SDK closed the connection).
 */
function showError(source, message, meta = {}) {
  const headline = {
    endpoint: 'The token endpoint refused the request',
    network: 'Could not reach the token endpoint',
    sdk: 'The Anam SDK reported an error',
    connection: 'The avatar connection closed',
  }[source];
  setState('error', `Error: ${headline}`);
  ui.error.hidden = false;
  ui.error.dataset.source = source;
  ui.error.dataset.code = meta.code || '';
  ui.errorMessage.textContent = message;
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

async function fetchSessionToken(prompt) {
  let response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(prompt ? { prompt } : {}),
      cache: 'no-store',
      credentials: 'omit',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (err) {
    // A browser hides why: the server is down, the URL is wrong, or CORS refused this page's origin.
    const reason = err && err.name === 'TimeoutError' ? 'timed out' : 'network error or CORS refusal';
    throw new EndpointError(`${endpoint} could not be reached (${reason}).`, { code: 'network_error' });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (data && typeof data.error === 'string') {
      throw new EndpointError(data.error, {
        code: typeof data.code === 'string' ? data.code : '',
        status: response.status,
        requestId: typeof data.requestId === 'string' ? data.requestId : '',
      });
    }
    throw new EndpointError(`The token endpoint answered HTTP ${response.status} without a JSON error.`, {
      status: response.status,
    });
  }
  if (!data || typeof data.sessionToken !== 'string' || !data.sessionToken) {
    throw new EndpointError('The token endpoint answered 200 without a sessionToken.', {
      status: response.status,
    });
  }
  return data;
}

function sdkOptions() {
  if (!anamApiBaseUrl) {
    return undefined; // production: the SDK's defaults (https://api.anam.ai)
  }
  // Offline/test mode: the SDK's REST calls go to the stand-in, and its telemetry is switched off (the
  // stand-in has no metrics endpoint). The SDK applies these options only after validating the token, so an
  // error thrown by that validation (e.g. a legacy token) would still be reported to https://api.anam.ai;
  // switching the telemetry off before createClient keeps this mode from reaching anything but the stand-in.
  setClientMetricsDisabled(true);
  return {
    api: { baseUrl: anamApiBaseUrl },
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
  setState('fetching-token');
  let token;
  try {
    token = await fetchSessionToken(prompt);
  } catch (err) {
    const source = err.code === 'network_error' ? 'network' : 'endpoint';
    showError(source, err.message, { code: err.code, status: err.status, requestId: err.requestId });
    return;
  }

  try {
    // Anam's SDK (3.0 and later) takes only the token: the persona was fixed when the server minted it.
    client = createClient(token.sessionToken, sdkOptions());
  } catch (err) {
    client = null;
    const { message, code, cause } = describeSdkError(err);
    showError('sdk', message, { code, cause });
    return;
  }

  client.addListener(AnamEvent.CONNECTION_ESTABLISHED, () => setState('connected'));
  client.addListener(AnamEvent.VIDEO_PLAY_STARTED, () => setState('streaming'));
  client.addListener(AnamEvent.CONNECTION_CLOSED, (code, details) => {
    if (stopping || code === ConnectionClosedCode.NORMAL) {
      return;
    }
    showError('connection', CLOSED_TEXT[code] || 'The connection to the avatar closed.', {
      code,
      cause: typeof details === 'string' ? details : '',
    });
  });

  setState('connecting');
  try {
    await client.streamToVideoElement(VIDEO_ELEMENT_ID);
  } catch (err) {
    const { message, code, cause } = describeSdkError(err);
    showError('sdk', message, { code, cause });
  }
}

async function stop() {
  stopping = true;
  const current = client;
  client = null;
  if (current) {
    try {
      await current.stopStreaming();
    } catch (err) {
      console.warn('[anam-example] stopStreaming failed', err);
    }
  }
  setState('idle', 'Stopped');
}

ui.endpoint.textContent = endpoint;
if (anamApiBaseUrl) {
  ui.anamApi.textContent = anamApiBaseUrl;
  ui.anamApiLine.hidden = false;
}
ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void start(ui.prompt.value.trim());
});
ui.stop.addEventListener('click', () => void stop());
setState('idle');
