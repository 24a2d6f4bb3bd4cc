/** A SIGINT this soon after the one before is the same Ctrl-C, arriving a second time. */
const ECHO_MS = 100;

/**
 * Calls `handler` on SIGTERM and SIGINT. `npm start` execs the server (so that npm's SIGTERM
 * reaches it), and one Ctrl-C then arrives twice: from the terminal, and passed on by npm. Such
 * an echo is dropped, so that a second Ctrl-C, not the first, ends the shutdown delay.
 */
export function onStopSignals(handler: (signal: 'SIGTERM' | 'SIGINT') => void): void {
  let lastInterrupt = Number.NEGATIVE_INFINITY;
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => {
    const now = performance.now();
    const echo = now - lastInterrupt < ECHO_MS;
    lastInterrupt = now;
    if (!echo) handler('SIGINT');
  });
}
