// Cloudflare's Turnstile widget, when the page has a site key: it gives the page a token that the endpoint
// verifies (docs/contract.md §10). A token is good for one verification: reset() after each use.

const TURNSTILE_SCRIPT = 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit';

let widget = null;

export const humanCheck = {
  token: '',

  reset() {
    this.token = '';
    if (widget !== null && window.turnstile) {
      window.turnstile.reset(widget);
    }
  },

  /** Render the widget in `element` when there is a site key; `onLoadError(script)` if it cannot load. */
  show(element, siteKey, onLoadError) {
    if (!siteKey) {
      return;
    }
    element.hidden = false;
    const script = document.createElement('script');
    script.src = TURNSTILE_SCRIPT;
    script.async = true;
    script.addEventListener('load', () => {
      widget = window.turnstile.render(element, {
        sitekey: siteKey,
        callback: (token) => {
          this.token = token;
        },
        'expired-callback': () => {
          this.token = '';
        },
        'error-callback': () => {
          this.token = '';
        },
      });
    });
    script.addEventListener('error', () => onLoadError(TURNSTILE_SCRIPT));
    document.head.append(script);
  },
};
