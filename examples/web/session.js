// The end of a session, told to the token endpoint once (docs/contract.md §12): the token's `endHandle`, as a
// text/plain body, to POST /session-ended next to /session-token. A beacon, so that the browser still sends it
// while the page goes away; it needs no credentials (the handle is the capability) and its answer is not read.

/** The /session-ended URL next to the token endpoint: the same base URL, its last path segment replaced. */
export function sessionEndedUrl(endpoint, base) {
  const url = new URL(endpoint, base);
  url.pathname = url.pathname.replace(/[^/]*\/?$/, 'session-ended');
  url.search = '';
  url.hash = '';
  return url.href;
}

/**
 * A function that tells `url` the session of `endHandle` ended, the first time it is called only; it does
 * nothing when the token came without a handle (no spend guard, or no reconciliation).
 */
export function sessionEnd(url, endHandle) {
  let told = typeof endHandle !== 'string' || !endHandle;
  return (why) => {
    if (told) {
      return;
    }
    told = true;
    let queued = false;
    try {
      queued = navigator.sendBeacon(url, endHandle); // a string body: Content-Type text/plain
    } catch {
      queued = false;
    }
    if (!queued) {
      // The beacon queue is full (or beacons are off): a keep-alive fetch outlives the page too.
      fetch(url, { method: 'POST', body: endHandle, keepalive: true, credentials: 'omit' }).catch(() => {});
    }
    console.info(`[anam-example] session ended (${why}): told ${url}`);
  };
}
