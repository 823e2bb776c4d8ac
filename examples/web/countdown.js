// A count-down shown in one element, second by second: the session's time left, and the waiting room's wait
// before it tries again. The element carries `data-seconds-left` for tests and assistive tools.

export class Countdown {
  /**
   * @param {HTMLElement} element where the count-down is shown
   * @param {(secondsLeft: number) => string} render its text for the seconds left
   * @param {() => void} [onDone] called once when it reaches zero
   */
  constructor(element, render, onDone = () => {}) {
    this.element = element;
    this.render = render;
    this.onDone = onDone;
    this.timer = null;
    this.endsAt = 0;
  }

  get running() {
    return this.timer !== null;
  }

  start(seconds) {
    this.stop();
    this.endsAt = Date.now() + seconds * 1000;
    this.element.hidden = false;
    this.timer = setInterval(() => this.tick(), 250);
    this.tick();
  }

  tick() {
    const left = Math.max(0, Math.ceil((this.endsAt - Date.now()) / 1000));
    this.element.dataset.secondsLeft = String(left);
    this.element.textContent = this.render(left);
    if (left === 0 && this.running) {
      this.stop();
      this.onDone();
    }
  }

  /** Stop counting; what it shows stays. */
  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  hide() {
    this.stop();
    this.element.hidden = true;
    delete this.element.dataset.secondsLeft;
  }
}

/** "9:58" for 598 seconds; "1:02:03" from an hour. */
export function clock(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
