/**
 * The `url` format in linear time. ajv-formats checks it with one regular expression,
 * `^(?:https?|ftp)://(?:\S+(?::\S*)?@)?HOST(?::\d{2,5})?(?:/\S*)?$`, whose optional user part
 * (`\S+(?::\S*)?@`) backtracks over every split of the text: "http://" and 100 000 colons, a
 * 100 KB body, held the event loop 5.6 s, and a 5 MiB one hours. This accepts exactly the same
 * strings (test/url-format.test.ts compares them) in one pass: the host and port lie between the
 * start, or an `@` that ends a user part of non-space characters, and the first `/` after it
 * (no `@`, `/` or `:` but the port's can be in them); only those spans, which do not overlap, go
 * through ajv-formats' own expression for a host and port.
 */

const SCHEME = /^(?:https?|ftp):\/\//iu;

/** ajv-formats' host (a public IPv4 address or a name with a top-level domain) and port, whole. */
const HOST_AND_PORT =
  /^(?:(?!(?:10|127)(?:\.\d{1,3}){3})(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))|(?:(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)(?:\.(?:[a-z0-9\u{00a1}-\u{ffff}]+-)*[a-z0-9\u{00a1}-\u{ffff}]+)*(?:\.(?:[a-z\u{00a1}-\u{ffff}]{2,})))(?::\d{2,5})?$/iu;

const SPACE = /\s/u;

/** How many host-and-port spans the last isUrl call tried (at most one per `@`, plus one). */
export const urlFormatWork = { spans: 0 };

export function isUrl(text: string): boolean {
  urlFormatWork.spans = 0;
  const scheme = SCHEME.exec(text);
  if (!scheme) return false;
  const rest = text.slice(scheme[0].length);
  // The user part (`\S+` before an `@`) holds no space: it ends before the first one.
  const space = rest.search(SPACE);
  const firstSpace = space < 0 ? rest.length : space;
  // The path (`/\S*`) holds no space: it starts after the last one.
  let lastSpace = -1;
  for (let i = rest.length - 1; i > firstSpace - 1 && lastSpace < 0; i--) {
    if (SPACE.test(rest.charAt(i))) lastSpace = i;
  }
  let start = 0;
  // Found once for every start up to it: each start is later than the one before.
  let slash = -1;
  while (start <= rest.length) {
    if (slash < start && slash !== rest.length) {
      slash = rest.indexOf('/', start);
      if (slash < 0) slash = rest.length;
    }
    const end = slash;
    const at = rest.indexOf('@', start);
    // A span holding an `@` is no host: the user part goes on past it.
    if (at < 0 || at >= end) {
      urlFormatWork.spans++;
      if (lastSpace < end && HOST_AND_PORT.test(rest.slice(start, end))) return true;
    }
    // The next start: just after an `@` that ends a user part (one character at least, no space).
    let next = at;
    while (next === 0) next = rest.indexOf('@', next + 1);
    if (next < 0 || next >= firstSpace) return false;
    start = next + 1;
  }
  return false;
}
