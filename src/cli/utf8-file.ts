import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';

const LF = 0x0a;
const CR = 0x0d;

/**
 * The first line of a file that is not UTF-8 (a Latin-1 or UTF-16 export), or undefined when it
 * all is. Read as text, such bytes become U+FFFD, and an import stored them so, silently; the data
 * API refuses such a body. Lines end at LF, CRLF or a lone CR, as an import counts them. The file
 * is read once, a chunk at a time: its complete lines are checked together, and line by line only
 * when they hold the fault.
 */
export async function firstNonUtf8Line(file: string): Promise<number | undefined> {
  let line = 1;
  /** The start of the line the last chunk ended in, not yet checked. */
  let pending: Buffer = Buffer.alloc(0);
  /** Checks whole lines (the last may end in its line break); their first bad line, or counts them. */
  const check = (bytes: Buffer): number | undefined => {
    if (isUtf8(bytes)) {
      line += breaks(bytes);
      return undefined;
    }
    for (let start = 0; ; ) {
      const end = lineEnd(bytes, start);
      if (!isUtf8(bytes.subarray(start, end))) return line;
      if (end === bytes.length) return line;
      line++;
      start = bytes[end] === CR && bytes[end + 1] === LF ? end + 2 : end + 1;
    }
  };
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    // Up to the last LF, included: whole lines (a character's bytes never hold a LF).
    const last = chunk.lastIndexOf(LF);
    if (last === -1) {
      pending = Buffer.concat([pending, chunk]);
      continue;
    }
    const bad = check(Buffer.concat([pending, chunk.subarray(0, last + 1)]));
    if (bad !== undefined) return bad;
    pending = chunk.subarray(last + 1);
  }
  return check(pending);
}

/** Where the line starting at `start` ends: its CR or LF, or the end of `bytes`. */
function lineEnd(bytes: Buffer, start: number): number {
  for (let i = start; i < bytes.length; i++) if (bytes[i] === LF || bytes[i] === CR) return i;
  return bytes.length;
}

/** The line breaks in `bytes`: LF, CRLF or a lone CR. */
function breaks(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(CR); i !== -1; i = bytes.indexOf(CR, i + 1)) if (bytes[i + 1] !== LF) n++;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) n++;
  return n;
}
