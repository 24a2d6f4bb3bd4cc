import { useEffect, useMemo, useSyncExternalStore } from 'react';

/** Hash routing (`#/endpoints/orders`): the server serves one index.html and needs no fallback. */

/** Asked before the route changes while a page has unsaved edits: false stays on the page. */
let leaveCheck: (() => boolean) | null = null;
/** An address already agreed to: a link confirmed when clicked, or the app's own navigate(). */
let agreedTo: string | null = null;

// Registered before any page listens (at import): a route change refused here reaches none of them.
// Back, Forward and a typed address change the hash before anything can ask; a refusal puts this
// page's address back (a history entry of its own: pushState fires no hashchange).
window.addEventListener('hashchange', (event) => {
  const agreed = agreedTo === event.newURL;
  agreedTo = null;
  if (agreed || leaveCheck === null || leaveCheck()) return;
  window.history.pushState(window.history.state, '', event.oldURL);
  event.stopImmediatePropagation();
});

/**
 * While `active`, leaving the page asks `message` first (a confirm dialog): a link within the app,
 * Back and Forward, a typed address; closing or reloading the tab asks with the browser's prompt.
 */
export function useLeaveGuard(active: boolean, message: string): void {
  useEffect(() => {
    if (!active) return;
    const ask = () => window.confirm(message);
    const onUnload = (event: BeforeUnloadEvent) => event.preventDefault();
    // A link is asked about before it is followed, so that staying adds no history entry.
    const onClick = (event: MouseEvent) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      const link = event.target instanceof Element ? event.target.closest('a[href^="#/"]') : null;
      if (!(link instanceof HTMLAnchorElement) || link.target === '_blank') return;
      if (link.href === window.location.href) return;
      if (ask()) agreedTo = link.href;
      else event.preventDefault();
    };
    leaveCheck = ask;
    window.addEventListener('beforeunload', onUnload);
    document.addEventListener('click', onClick, true);
    return () => {
      if (leaveCheck === ask) leaveCheck = null;
      window.removeEventListener('beforeunload', onUnload);
      document.removeEventListener('click', onClick, true);
    };
  }, [active, message]);
}

/** Fired when setRouteQuery replaces the address: replaceState fires no hashchange. */
const QUERY_REPLACED = 'gatehouse:query-replaced';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  window.addEventListener(QUERY_REPLACED, onChange);
  return () => {
    window.removeEventListener('hashchange', onChange);
    window.removeEventListener(QUERY_REPLACED, onChange);
  };
}

function currentPath(): string {
  const hash = window.location.hash.replace(/^#/, '');
  return hash.startsWith('/') ? hash : '/';
}

/** The route's path segments, decoded: `#/endpoints/orders` → `['endpoints', 'orders']`. */
export function useRoute(): string[] {
  const path = useSyncExternalStore(subscribe, currentPath);
  return (
    path
      .split('?')[0]
      ?.split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s)) ?? []
  );
}

function currentQuery(): string {
  return currentPath().split('?')[1] ?? '';
}

/**
 * The route's query (`#/usage?days=30` → `days=30`), kept in the address so that a reload or a
 * shared link shows the same view. Parse each value and fall back to a default: it may be typed.
 */
export function useRouteQuery(): URLSearchParams {
  const query = useSyncExternalStore(subscribe, currentQuery);
  return useMemo(() => new URLSearchParams(query), [query]);
}

/**
 * The choice `value` names (from useRouteQuery), else `fallback`: an address may be typed or cut
 * short, and a value that is not a choice must not reach the server (or the page) as one.
 */
export function oneOf<T extends string>(
  value: string | null,
  choices: readonly (T | { value: T })[],
  fallback: T,
): T {
  for (const choice of choices) {
    const named = typeof choice === 'string' ? choice : choice.value;
    if (named === value) return named;
  }
  return fallback;
}

/**
 * Sets the route's query to `values` (one left undefined is dropped: a default, kept out of the
 * address), in place: a filter changed adds no history entry, and no leave guard is asked.
 */
export function setRouteQuery(values: Record<string, string | undefined>): void {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined) query.set(name, value);
  const path = currentPath().split('?')[0] ?? '/';
  const text = query.toString();
  window.history.replaceState(window.history.state, '', href(text === '' ? path : `${path}?${text}`));
  window.dispatchEvent(new Event(QUERY_REPLACED));
}

/**
 * The create form's route segment (`#/endpoints/_new`): not a slug (`_` is not in one), so an
 * endpoint or app whose slug is `new` opens its own page.
 */
export const NEW = '_new';

/** Goes to `path`, unasked: the page calling it has dealt with its edits (saved, or deleted). */
export function navigate(path: string): void {
  const target = new URL(href(path), window.location.href).href;
  if (target !== window.location.href) agreedTo = target;
  window.location.hash = path.startsWith('/') ? path : `/${path}`;
}

export function href(path: string): string {
  return `#${path.startsWith('/') ? path : `/${path}`}`;
}
