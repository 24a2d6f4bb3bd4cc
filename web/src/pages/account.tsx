import { Button, Card, Checkbox, Stack, Text, Title } from '@mantine/core';
import { type FormEvent, useRef, useState } from 'react';
import { newPasswordProblem, PASSWORD_MIN_LENGTH } from '../../../src/accounts/new-password.ts';
import { ApiFailure, api, setCsrfToken } from '../api/client.ts';
import type { ManagementToken, User } from '../api/types.ts';
import { useLoader } from '../app/use-loader.ts';
import {
  firstInvalid,
  focusLost,
  notifyError,
  notifySuccess,
  submitterOf,
  useFocusNext,
} from '../components/feedback.tsx';
import { PageHeader, timeAgo } from '../components/page.tsx';
import { PasswordInput } from '../components/password-input.tsx';

/** Tokens named under the checkbox; the rest are counted. */
const TOKENS_NAMED = 5;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** "Password changed", then what else the change ended. */
function changedMessage(sessions: number, tokens: number): string {
  const ended = [
    sessions > 0 ? `${plural(sessions, 'other session was', 'other sessions were')} signed out` : '',
    tokens > 0 ? `${plural(tokens, 'CLI token was', 'CLI tokens were')} revoked` : '',
  ].filter((part) => part !== '');
  return ['Password changed', ...ended].join('; ');
}

/**
 * Your own account: the password you sign in with. Changing it signs your other sessions out and,
 * unless unticked, revokes your CLI tokens: whoever learned the password may have made one with it.
 */
export function AccountPage({ user }: { user: User }) {
  const tokens = useLoader(() => api.get<ManagementToken[]>('/admin/v1/tokens'), 'tokens');
  const [revokeTokens, setRevokeTokens] = useState(true);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ current?: string; next?: string }>({});
  const [busy, setBusy] = useState(false);
  const mismatch = confirm !== '' && confirm !== next;
  const form = useRef<HTMLFormElement>(null);
  const focusNext = useFocusNext();

  async function submit(event: FormEvent) {
    event.preventDefault();
    // An error is said at its field, which gets focus: sent from the last field or the button,
    // nothing was announced (and the button, disabled while busy, dropped focus on <body>).
    const submitter = submitterOf(event);
    const focusAfter = () =>
      focusNext(
        () => firstInvalid(form.current),
        () => (focusLost() ? submitter : null),
      );
    // The server's rule (8 characters, not blank), said at the field before anything is sent.
    const problem = newPasswordProblem(next);
    if (problem !== undefined) {
      setErrors({ next: problem });
      focusAfter();
      return;
    }
    // Cleared first: "Use at least 8 characters" stayed on a long new password that only differed.
    setErrors({});
    if (mismatch) {
      focusAfter();
      return;
    }
    setBusy(true);
    try {
      const changed = await api.put<
        User & { sessions_ended: number; tokens_revoked: number; csrf_token?: string }
      >('/admin/v1/account/password', {
        current_password: current,
        new_password: next,
        revoke_tokens: revokeTokens,
      });
      // This session stays under a new cookie (set by the answer) and a new CSRF token.
      if (changed.csrf_token) setCsrfToken(changed.csrf_token);
      setCurrent('');
      setNext('');
      setConfirm('');
      notifySuccess(changedMessage(changed.sessions_ended, changed.tokens_revoked));
      if (changed.tokens_revoked > 0) tokens.reload();
    } catch (error) {
      // A field the server names is shown at that field; anything else (429, say) as a toast.
      const detail = error instanceof ApiFailure ? error.details[0] : undefined;
      if (detail?.field === 'current_password') setErrors({ current: detail.error });
      else if (detail?.field === 'new_password') setErrors({ next: detail.error });
      else notifyError(error, 'Could not change the password');
    } finally {
      setBusy(false);
      focusAfter();
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
          Your other dashboard sessions are signed out; this one stays.
        </Text>
        <form ref={form} onSubmit={submit} aria-label="Change password">
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
              description={`At least ${PASSWORD_MIN_LENGTH} characters`}
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
            {/* Shown until the list says there is none: the change revokes them while it is ticked,
                so a list still loading, or not loaded, must not hide the box. */}
            {(tokens.data === undefined || tokens.data.length > 0) && (
              <Checkbox
                label={
                  tokens.data === undefined
                    ? 'Also revoke my CLI tokens'
                    : `Also revoke my ${plural(tokens.data.length, 'CLI token', 'CLI tokens')}`
                }
                description={tokensDescription(tokens.data)}
                checked={revokeTokens}
                onChange={(e) => setRevokeTokens(e.currentTarget.checked)}
              />
            )}
            <Button type="submit" loading={busy} style={{ alignSelf: 'flex-start' }}>
              Change password
            </Button>
          </Stack>
        </form>
      </Card>
    </>
  );
}

/** Which tokens the checkbox revokes (when they could be listed), and why it is ticked. */
function tokensDescription(list: ManagementToken[] | undefined): string {
  const why =
    'Whoever learned your password may have made one with gatehouse login; scripts using a revoked token need a new one.';
  if (list === undefined) return why;
  const named = list
    .slice(0, TOKENS_NAMED)
    .map(
      (token) =>
        `${token.name} (${token.last_used_at ? `used ${timeAgo(token.last_used_at)}` : 'never used'})`,
    )
    .join(', ');
  const more = list.length > TOKENS_NAMED ? ` and ${list.length - TOKENS_NAMED} more` : '';
  return `${named}${more}. ${why}`;
}
