import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiFailure } from '../api/client.ts';
import { useSession } from './session.tsx';

export interface Loader<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (update: (current: T | undefined) => T | undefined) => void;
}

/**
 * Loads once per `key` and on `reload()`; answers that arrive after a newer load are dropped. A new
 * key starts empty (loading); a reload keeps the data on screen until its answer arrives.
 */
export function useLoader<T>(load: () => Promise<T>, key: string): Loader<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);
  const loadedKey = useRef(key);

  // biome-ignore lint/correctness/useExhaustiveDependencies: reloads on key and on reload() ticks
  useEffect(() => {
    const mine = ++generation.current;
    // Another key (another endpoint, say): the previous key's data must not stay on screen.
    if (loadedKey.current !== key) {
      loadedKey.current = key;
      setDataState(undefined);
    }
    setLoading(true);
    setError(undefined);
    loadRef.current().then(
      (value) => {
        if (mine !== generation.current) return;
        setDataState(value);
        setLoading(false);
      },
      (failure: unknown) => {
        if (mine !== generation.current) return;
        setError(failure);
        setLoading(false);
      },
    );
  }, [key, tick]);

  // A load refused because the session had ended loads again once signed in again (the page
  // stayed under the sign-in dialog), instead of keeping its "Try again".
  const signedIn = Boolean(useSession().user);
  const refusedForSession = error instanceof ApiFailure && error.status === 401;
  useEffect(() => {
    if (signedIn && refusedForSession) setTick((t) => t + 1);
  }, [signedIn, refusedForSession]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback(
    (update: (current: T | undefined) => T | undefined) => setDataState((current) => update(current)),
    [],
  );
  return { data, error, loading, reload, setData };
}
