/**
 * The sandbox tokens a route may keep: each widens what the page can do inside its own document
 * and opaque origin, never beyond it. Left out: `allow-same-origin` (the page would run as the
 * dashboard's origin, and with `allow-scripts` could lift its own sandbox), the
 * `allow-top-navigation*` tokens (a framed page could send the tab that frames it elsewhere),
 * `allow-popups-to-escape-sandbox`, `allow-storage-access-by-user-activation`, and any token a
 * browser may add later.
 */
const KEPT_TOKENS = new Set([
  'allow-downloads',
  'allow-forms',
  'allow-modals',
  'allow-orientation-lock',
  'allow-pointer-lock',
  'allow-popups',
  'allow-presentation',
  'allow-scripts',
]);

/** The whitespace a browser splits a directive on (ASCII only: U+00A0 is part of a token). */
const WHITESPACE = /[\t\n\f\r ]+/;
const BLANK = /^[\t\n\f\r ]*$/;
const LEADING = /^[\t\n\f\r ]*/;

/**
 * The Content-Security-Policy of a non-JSON App answer, given the route's own (if any): always
 * sandboxed. The route's policies are kept, each `sandbox` directive in them stripped of the
 * tokens not in KEPT_TOKENS, and a `sandbox` policy of our own goes last, holding only the tokens
 * every one of the route's `sandbox` directives kept. A header may hold several policies
 * separated by commas, and a browser enforces them all: Chromium and Firefox combine their
 * sandboxes so that each one only restricts, the HTML standard takes the last one, which is
 * ours; either way no policy of the route can widen the sandbox past ours.
 */
export function sandboxedPolicy(own: string | undefined): string {
  if (own === undefined || BLANK.test(own)) return 'sandbox';
  let shared: string[] | undefined;
  const policies = own.split(',').map((policy) => {
    let seen = false;
    const directives = policy.split(';').map((directive) => {
      const [name = '', ...tokens] = directive.split(WHITESPACE).filter((part) => part !== '');
      if (name.toLowerCase() !== 'sandbox') return directive;
      const kept = tokens.map((token) => token.toLowerCase()).filter((token) => KEPT_TOKENS.has(token));
      // A browser reads the first `sandbox` of a policy and ignores the others (stripped all the same).
      if (!seen) shared = shared ? shared.filter((token) => kept.includes(token)) : kept;
      seen = true;
      return `${LEADING.exec(directive)?.[0] ?? ''}${['sandbox', ...kept].join(' ')}`;
    });
    return directives.join(';');
  });
  return `${policies.join(',')}, ${['sandbox', ...new Set(shared)].join(' ')}`;
}
