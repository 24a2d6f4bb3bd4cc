import { Alert, Anchor, Button, Stack, Text } from '@mantine/core';
import { type FormEvent, useRef, useState } from 'react';
import { newPasswordProblem, PASSWORD_MIN_LENGTH } from '../../../src/accounts/new-password.ts';
import { ApiFailure, api, errorMessage } from '../api/client.ts';
import { navigate } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { useLoader } from '../app/use-loader.ts';
import { ErrorState, firstInvalid, LoadingState, useFocusNext } from '../components/feedback.tsx';
import { formatDate } from '../components/page.tsx';
import { PasswordInput } from '../components/password-input.tsx';
import { AuthCard } from './sign-in.tsx';

export function InvitePage({ token }: { token: string }) {
  const { acceptInvite, user } = useSession();
  const invite = useLoader(
    () => api.get<{ email: string; expires_at: string }>('/admin/v1/invites/lookup', { token }),
    token,
  );
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  /** What is wrong with the password, said at its field (the rest, a refused link say, above). */
  const [passwordError, setPasswordError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const focusNext = useFocusNext();

  const mismatch = confirm !== '' && confirm !== password;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const focusInvalid = () => focusNext(() => firstInvalid(form.current));
    // The server's rule (8 characters, not blank), said at the field before anything is sent.
    const problem = newPasswordProblem(password);
    setPasswordError(problem);
    // Cleared first: "Use at least 8 characters" stayed on a long password that only differed.
    setError(null);
    if (problem !== undefined || mismatch) {
      focusInvalid();
      return;
    }
    setBusy(true);
    try {
      await acceptInvite(token, password);
      navigate('/endpoints');
    } catch (failure) {
      const detail = failure instanceof ApiFailure ? failure.details[0] : undefined;
      if (detail?.field === 'password') {
        setPasswordError(detail.error);
        focusInvalid();
      } else setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Accept your invitation">
      {invite.loading && <LoadingState label="Checking the invitation…" />}
      {invite.error !== undefined && (
        <>
          <ErrorState error={invite.error} />
          <Text size="sm">
            Ask the owner for a new invite link, or <Anchor href="#/">go to sign-in</Anchor>.
          </Text>
        </>
      )}
      {invite.data && (
        <form ref={form} onSubmit={submit} aria-label="Accept invitation">
          <Stack>
            {user && (
              <Alert color="yellow">
                You are signed in as {user.email}. Accepting signs you in as the invited user instead.
              </Alert>
            )}
            <Text size="sm">
              You were invited as <b data-testid="invite-email">{invite.data.email}</b>. The link expires{' '}
              {formatDate(invite.data.expires_at)}. Choose a password to finish.
            </Text>
            {error && (
              <Alert color="red" role="alert">
                {error}
              </Alert>
            )}
            <PasswordInput
              label="New password"
              description={`At least ${PASSWORD_MIN_LENGTH} characters`}
              autoComplete="new-password"
              required
              value={password}
              error={passwordError}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <PasswordInput
              label="Repeat password"
              autoComplete="new-password"
              required
              value={confirm}
              error={mismatch ? 'The passwords differ' : undefined}
              onChange={(e) => setConfirm(e.currentTarget.value)}
            />
            <Button type="submit" loading={busy}>
              Create account and sign in
            </Button>
          </Stack>
        </form>
      )}
    </AuthCard>
  );
}
