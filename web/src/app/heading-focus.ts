import { useEffect, useRef } from 'react';

/** How long a page may take to draw its heading (its data loading first) before we stop waiting. */
const WAIT_MS = 10_000;

/**
 * Whether focus is nowhere in particular: on <body> (the sign-in form or the clicked element was
 * removed), on <main>, in the navigation, or on the in-app link just followed. Anywhere else, the
 * page or the user has put it somewhere on purpose (the endpoint editor's own focus on mount, a
 * Select that changes the route as its value changes): left there.
 */
function focusUnclaimed(): boolean {
  const active = document.activeElement;
  if (active === null || active === document.body || active.id === 'main') return true;
  if (active.closest('#main-navigation')) return true;
  return active instanceof HTMLAnchorElement && active.getAttribute('href')?.startsWith('#/') === true;
}

/**
 * Moves focus to the page's h1 (tabindex=-1, PageHeader's) once it is drawn: pages draw it after
 * their data has loaded, so this watches <main> until it appears. Returns a stop function.
 */
function focusHeadingWhenDrawn(): () => void {
  const main = document.getElementById('main');
  if (main === null) return () => {};
  let done = false;
  const tryFocus = () => {
    if (done) return;
    const heading = main.querySelector<HTMLElement>('h1');
    if (heading === null) return;
    stop();
    if (focusUnclaimed()) heading.focus();
  };
  const observer = new MutationObserver(tryFocus);
  const timer = window.setTimeout(() => stop(), WAIT_MS);
  function stop() {
    done = true;
    observer.disconnect();
    window.clearTimeout(timer);
  }
  observer.observe(main, { childList: true, subtree: true });
  tryFocus();
  return stop;
}

/**
 * After each route change, and on arrival when `onArrival` (just signed in), focus goes to the new
 * page's main heading, so a screen reader announces the page and Tab starts from its top.
 *
 * Not on a plain load or reload of an address: the browser starts at the top of the document
 * there, the title names the page, and the skip link is the first thing Tab reaches.
 */
export function useHeadingFocus(path: string, onArrival: boolean): void {
  const shown = useRef<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the page changes
  useEffect(() => {
    // The same path again is StrictMode's second run of the first effect: still the arrival.
    const arrival = shown.current === null || shown.current === path;
    shown.current = path;
    if (arrival && !onArrival) return;
    return focusHeadingWhenDrawn();
  }, [path]);
}
