import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';

/** The label inside a sentence: "Signing secret" → "signing secret", an acronym ("API key") kept. */
function inSentence(label: string): string {
  return /^[A-Z]{2}/.test(label) ? label : label.charAt(0).toLowerCase() + label.slice(1);
}

/** A secret shown once: the value, a copy button and the warning. */
export function SecretReveal({
  label,
  secret,
  note,
  storedAs = 'hash',
}: {
  label: string;
  secret: string;
  note?: string;
  /** How Gatehouse keeps it: an API key only as a hash; a signing secret encrypted, to sign with. */
  storedAs?: 'hash' | 'encrypted';
}) {
  return (
    <Stack gap="sm">
      <Alert color="yellow" title="You will not see this again">
        Copy the {inSentence(label)} now and keep it somewhere safe.{' '}
        {storedAs === 'hash'
          ? 'Gatehouse stores only a hash of it.'
          : 'Gatehouse keeps it encrypted, to sign deliveries with, and never shows it again.'}
      </Alert>
      <Text size="sm" fw={500} id="secret-label">
        {label}
      </Text>
      <Code
        block
        aria-labelledby="secret-label"
        data-testid="secret-value"
        // A <pre> does not wrap: on a phone the secret would run past the dialog's edge, cut off.
        style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
      >
        {secret}
      </Code>
      {note && (
        <Text size="sm" c="dimmed">
          {note}
        </Text>
      )}
      <Group>
        <CopyButton value={secret}>
          {({ copied, copy }) => (
            <Button color={copied ? 'teal' : 'blue'} onClick={copy}>
              {copied ? 'Copied' : `Copy ${inSentence(label)}`}
            </Button>
          )}
        </CopyButton>
      </Group>
    </Stack>
  );
}

export function CopyText({ value, label = 'Copy' }: { value: string; label?: string }) {
  return (
    <CopyButton value={value}>
      {({ copied, copy }) => (
        <Button size="xs" variant="light" color={copied ? 'teal' : 'blue'} onClick={copy}>
          {copied ? 'Copied' : label}
        </Button>
      )}
    </CopyButton>
  );
}

/**
 * A secret the server keeps and shows again when asked (a callback signing secret): read on
 * demand, shown in this dialog with what it is for, and dropped from the page when it closes.
 */
export function SecretDialog({
  title,
  secret,
  onClose,
  testId,
  children,
  actions,
  closeOnEscape = true,
}: {
  title: string;
  secret: string | null;
  onClose: () => void;
  testId: string;
  /** What the secret signs, and who may have it. */
  children: ReactNode;
  /** More buttons beside Copy (a rotation). */
  actions?: ReactNode;
  /** False while a question asked from one of the actions is open over it: Escape is that question's. */
  closeOnEscape?: boolean;
}) {
  return (
    <Modal opened={secret !== null} onClose={onClose} title={title} size="lg" closeOnEscape={closeOnEscape}>
      {secret && (
        <Stack gap="sm">
          <Text size="sm">{children}</Text>
          <Code
            block
            aria-label={title}
            data-testid={testId}
            style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
          >
            {secret}
          </Code>
          <Group justify="flex-end">
            {actions}
            <CopyText value={secret} label="Copy secret" />
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
