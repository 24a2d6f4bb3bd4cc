import { Alert, Button, Center, Code, Modal, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api, errorMessage } from '../api/client.ts';
import type { SetupInfo } from '../api/types.ts';
import { useSession } from '../app/session.tsx';
import { useLoader } from '../app/use-loader.ts';
import { PasswordInput } from '../components/password-input.tsx';
import { CopyText } from '../components/secret.tsx';

export function AuthCard({ title, children }: { title: string; children: React.ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Gatehouse`;
  }, [title]);
  return (
    <Center mih="100vh" p="md" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={420} radius="md">
        <Stack>
          <Title order={2} c="indigo.7">
            Gatehouse
          </Title>
          <Text fw={600}>{title}</Text>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}

export function SignInPage() {
  const { ended } = useSession();
  const setup = useLoader(() => api.get<SetupInfo>('/admin/v1/setup'), 'setup');

  if (setup.data && !setup.data.initialized) {
    return (
      <AuthCard title="No owner yet">
        <Text size="sm">Gatehouse has no owner account. On the server, run:</Text>
        {/* Wrapped: on a phone the one line ran past the card's edge, to be read by scrolling it. */}
        <Code block data-testid="init-command" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {setup.data.init_command}
        </Code>
        <CopyText value={setup.data.init_command} label="Copy command" />
        <Text size="sm" c="dimmed">
          Then reload this page and sign in with that email and password.
        </Text>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Sign in">
      <SignInForm notice={ended ? 'Your session has ended: sign in again.' : null} />
    </AuthCard>
  );
}

/**
 * The session ended on the server (expired, signed out elsewhere) while a page was open: signing
 * in here keeps that page as it was, unsaved edits included; then send again what was refused.
 */
/** Over the page while the session is ended (Escape is held back meanwhile: session.tsx). */
export function SessionEndedDialog({ email }: { email: string }) {
  return (
    <Modal
      opened
      onClose={() => {}}
      withCloseButton={false}
      closeOnEscape={false}
      closeOnClickOutside={false}
      title="Your session has ended"
      centered
    >
      <SignInForm
        initialEmail={email}
        notice="Sign in again to go on where you were: the page keeps what you entered. Then send again what was refused."
      />
    </Modal>
  );
}

function SignInForm({ initialEmail = '', notice }: { initialEmail?: string; notice: string | null }) {
  const { signIn } = useSession();
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const passwordRef = useRef<HTMLInputElement>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
    } catch (failure) {
      setError(errorMessage(failure));
      // The button was disabled while busy, which left focus nowhere: back to the password.
      setTimeout(() => passwordRef.current?.focus(), 0);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-label="Sign in">
      <Stack>
        {error && (
          <Alert color="red" role="alert" title="Could not sign in">
            {error}
          </Alert>
        )}
        {!error && notice && (
          <Alert color="yellow" role="status">
            {notice}
          </Alert>
        )}
        <TextInput
          label="Email"
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.currentTarget.value)}
          autoFocus={initialEmail === ''}
        />
        <PasswordInput
          ref={passwordRef}
          label="Password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          data-autofocus={initialEmail !== '' ? true : undefined}
        />
        <Button type="submit" loading={busy} fullWidth>
          Sign in
        </Button>
      </Stack>
    </form>
  );
}
