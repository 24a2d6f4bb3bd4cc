import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { ApiFailure, call, setCsrfToken, setUnauthorizedHandler } from '../api/client.ts';
import type { SessionInfo, User } from '../api/types.ts';

interface SessionState {
  /** undefined while the first GET /admin/v1/session is in flight. */
  user: User | null | undefined;
  /** The last session ended on the server (expired, or signed out elsewhere): sign-in says so. */
  ended: boolean;
  /**
   * Who was signed in when the session ended on the server: the pages stay as they were (unsaved
   * edits too) under a sign-in dialog, until someone signs in again.
   */
  resumable: User | null;
  /**
   * This tab signed in (the form, an invite) rather than finding a session on load: the first
   * page then takes focus (heading-focus.ts).
   */
  signedInHere: boolean;
  signIn: (email: string, password: string) => Promise<void>;
  acceptInvite: (token: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [ended, setEnded] = useState(false);
  const [resumable, setResumable] = useState<User | null>(null);
  const [signedInHere, setSignedInHere] = useState(false);
  const current = useRef<User | null>(null);
  const endedNow = useRef(false);
  endedNow.current = ended;

  // While the session-ended dialog is up, Escape must not close a dialog under it (a key being
  // edited would lose its edits): every open Mantine dialog closes on an Escape anywhere in the
  // window, from a window capture listener. This one is added first (the provider mounts before
  // any dialog), so it runs first and stops the others.
  useEffect(() => {
    const swallow = (event: KeyboardEvent) => {
      if (endedNow.current && event.key === 'Escape') event.stopImmediatePropagation();
    };
    window.addEventListener('keydown', swallow, true);
    return () => window.removeEventListener('keydown', swallow, true);
  }, []);

  const adopt = useCallback((info: SessionInfo | null) => {
    setCsrfToken(info?.csrf_token ?? null, info?.user.id ?? null);
    current.current = info?.user ?? null;
    setUser(info?.user ?? null);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      if (current.current) setResumable(current.current);
      setEnded(true);
      adopt(null);
    });
    call<SessionInfo>('GET', '/admin/v1/session', { allowUnauthorized: true }).then(
      (r) => adopt(r.data),
      () => adopt(null),
    );
    return () => setUnauthorizedHandler(null);
  }, [adopt]);

  const value = useMemo<SessionState>(
    () => ({
      user,
      ended,
      resumable,
      signedInHere,
      async signIn(email, password) {
        const r = await call<SessionInfo>('POST', '/admin/v1/session', {
          body: { email, password },
          allowUnauthorized: true,
        });
        setEnded(false);
        setResumable(null);
        setSignedInHere(true);
        adopt(r.data);
      },
      async acceptInvite(token, password) {
        const r = await call<SessionInfo>('POST', '/admin/v1/invites/accept', {
          body: { token, password },
          allowUnauthorized: true,
        });
        setSignedInHere(true);
        adopt(r.data);
      },
      async signOut() {
        try {
          await call('DELETE', '/admin/v1/session', { allowUnauthorized: true });
        } catch (error) {
          // Only a session already gone (401) is signed out; otherwise (no answer, a server
          // error) the session may still be valid: the tab stays signed in and says so.
          if (!(error instanceof ApiFailure) || error.status !== 401) throw error;
        }
        setEnded(false);
        setResumable(null);
        adopt(null);
      },
    }),
    [user, ended, resumable, signedInHere, adopt],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside SessionProvider');
  return state;
}

/** The signed-in user; only for pages rendered behind the sign-in gate. */
export function useUser(): User {
  const { user, resumable } = useSession();
  const signedIn = user ?? resumable;
  if (!signedIn) throw new Error('useUser without a signed-in user');
  return signedIn;
}
