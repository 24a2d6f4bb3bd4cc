import { useSyncExternalStore } from 'react';

/** Hash routing (`#/endpoints/orders`): the server serves one index.html and needs no fallback. */

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
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

/**
 * The create form's route segment (`#/endpoints/_new`): not a slug (`_` is not in one), so an
 * endpoint or app whose slug is `new` opens its own page.
 */
export const NEW = '_new';

export function navigate(path: string): void {
  window.location.hash = path.startsWith('/') ? path : `/${path}`;
}

export function href(path: string): string {
  return `#${path.startsWith('/') ? path : `/${path}`}`;
}
