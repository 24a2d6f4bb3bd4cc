/**
 * The call's answer, or `timedOut()` thrown after `ms`. A timer that comes due while the event
 * loop is busy (a burst of requests on a loaded machine) runs before that loop turn's I/O is
 * read: an answer sent in time may be waiting in the socket or IPC channel. So the timeout is
 * only declared one I/O phase later (setImmediate runs after it); otherwise a busy process would
 * call a healthy Redis, or its own primary, down.
 */
export function withinDeadline<T>(call: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        settled = true;
        reject(timedOut());
      });
    }, ms);
    call.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
