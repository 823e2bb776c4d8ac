// Limits are waits, not errors (docs/contract.md §3, §12): what a visitor reads when the token endpoint says
// "not now", and when to come back, from the answer's Retry-After (seconds). Never the header's name: a visitor
// has no use for it.

const DEFAULT_BUSY_RETRY_SECONDS = 30; // sessions_busy without Retry-After
const MAX_BUSY_RETRY_SECONDS = 600; // a waiting room that says "in 3 hours" is not one

export const WAITS = {
  quota_exceeded: {
    headline: "You have had this hour's or today's conversations",
    message: (when) => `You can start a new conversation ${when || 'later'}.`,
  },
  budget_exhausted: {
    headline: 'The avatar is resting: its conversation budget for now is used up',
    message: (when) => `It will be back ${when || 'later'}.`,
  },
  // A waiting room: the page counts down and tries again by itself.
  sessions_busy: {
    headline: 'All our hosts are busy',
    message: (when) => `All our hosts are busy talking with other visitors. We will try again ${when}.`,
    retries: true,
  },
};

/** "in 12 minutes (14:00 UTC)" for a Retry-After of seconds, or '' when there is none. */
export function describeRetryAfter(retryAfter) {
  const seconds = Number(retryAfter);
  if (!retryAfter || !Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  const at = new Date(Date.now() + seconds * 1000).toISOString().slice(11, 16);
  if (seconds < 90) {
    return `in ${Math.max(1, Math.round(seconds))} seconds`;
  }
  if (seconds < 90 * 60) {
    return `in ${Math.round(seconds / 60)} minutes (${at} UTC)`;
  }
  return `in ${Math.round(seconds / 3600)} hours (${at} UTC)`;
}

/** How long the waiting room waits before it tries again: Retry-After, within reason. */
export function retryDelaySeconds(retryAfter) {
  const seconds = Math.ceil(Number(retryAfter));
  if (!retryAfter || !Number.isFinite(seconds) || seconds < 1) {
    return DEFAULT_BUSY_RETRY_SECONDS;
  }
  return Math.min(seconds, MAX_BUSY_RETRY_SECONDS);
}
