import { Button, Card, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { ApiFailure, api, setCsrfToken } from '../api/client.ts';
import type { User } from '../api/types.ts';
import { notifyError, notifySuccess } from '../components/feedback.tsx';
import { PageHeader } from '../components/page.tsx';

const MIN_PASSWORD = 8;

/** Your own account: the password you sign in with. Changing it signs your other sessions out. */
export function AccountPage({ user }: { user: User }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ current?: string; next?: string }>({});
  const [busy, setBusy] = useState(false);
  const mismatch = confirm !== '' && confirm !== next;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (next.length < MIN_PASSWORD) {
      setErrors({ next: `Use at least ${MIN_PASSWORD} characters` });
      return;
    }
    if (mismatch) return;
    setBusy(true);
    setErrors({});
    try {
      const changed = await api.put<User & { sessions_ended: number; csrf_token?: string }>(
        '/admin/v1/account/password',
        { current_password: current, new_password: next },
      );
      // This session stays under a new cookie (set by the answer) and a new CSRF token.
      if (changed.csrf_token) setCsrfToken(changed.csrf_token);
      setCurrent('');
      setNext('');
      setConfirm('');
      const ended = changed.sessions_ended;
      notifySuccess(
        ended === 0
          ? 'Password changed'
          : `Password changed; ${ended} other ${ended === 1 ? 'session was' : 'sessions were'} signed out`,
      );
    } catch (error) {
      // A field the server names is shown at that field; anything else (429, say) as a toast.
      const detail = error instanceof ApiFailure ? error.details[0] : undefined;
      if (detail?.field === 'current_password') setErrors({ current: detail.error });
      else if (detail?.field === 'new_password') setErrors({ next: detail.error });
      else notifyError(error, 'Could not change the password');
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <PageHeader title="Account" description={`Signed in as ${user.email} (${user.role}).`} />
      <Card withBorder maw={520}>
        <Title order={4} mb="xs">
          Change password
        </Title>
        <Text size="sm" c="dimmed" mb="md">
          Your other dashboard sessions are signed out; this one stays. CLI tokens keep working: revoke a lost
          one on the CLI tokens page.
        </Text>
        <form onSubmit={submit} aria-label="Change password">
          <Stack>
            <PasswordInput
              label="Current password"
              autoComplete="current-password"
              required
              value={current}
              error={errors.current}
              onChange={(e) => setCurrent(e.currentTarget.value)}
            />
            <PasswordInput
              label="New password"
              description={`At least ${MIN_PASSWORD} characters`}
              autoComplete="new-password"
              required
              value={next}
              error={errors.next}
              onChange={(e) => setNext(e.currentTarget.value)}
            />
            <PasswordInput
              label="Repeat new password"
              autoComplete="new-password"
              required
              value={confirm}
              error={mismatch ? 'The passwords differ' : undefined}
              onChange={(e) => setConfirm(e.currentTarget.value)}
            />
            <Button type="submit" loading={busy} style={{ alignSelf: 'flex-start' }}>
              Change password
            </Button>
          </Stack>
        </form>
      </Card>
    </>
  );
}
