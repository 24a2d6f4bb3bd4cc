import { Alert, Button, Center, Group, Loader, Stack, Text } from '@mantine/core';
import { modals, type OpenConfirmModal } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import type { ReactNode } from 'react';
import { ApiFailure, errorMessage } from '../api/client.ts';
import type { Loader as DataLoader } from '../app/use-loader.ts';

export function notifySuccess(message: string): void {
  notifications.show({ color: 'teal', title: 'Done', message });
}

/** An error stays until it is dismissed: it may be read slowly, or missed while looking away. */
export function notifyError(error: unknown, title = 'Something went wrong'): void {
  notifications.show({ color: 'red', title, message: errorMessage(error), autoClose: false });
}

/**
 * Gives focus back when a dialog closes: to `element`, or (gone, as a clicked menu item is) to the
 * page's heading, so keyboard and screen reader users are not left on <body>. Called from the
 * dialog's onClose; it runs once the dialog has closed, after Mantine's own focus return looked.
 */
export function focusBack(element: Element | null): void {
  setTimeout(() => {
    const target =
      element instanceof HTMLElement && element.isConnected
        ? element
        : (document.querySelector<HTMLElement>('main h1') ?? document.getElementById('main'));
    target?.focus({ preventScroll: target === element });
  }, 0);
}

/** openConfirmModal that starts on Cancel (not the unnamed ×) and gives focus back on close. */
export function openConfirm(options: OpenConfirmModal): void {
  const opener = document.activeElement;
  modals.openConfirmModal({
    ...options,
    cancelProps: { 'data-autofocus': true, ...options.cancelProps },
    onClose: () => {
      options.onClose?.();
      focusBack(opener);
    },
  });
}

/** Runs a destructive action after the user confirms it in a modal. */
export function confirmAction(options: {
  title: string;
  message: ReactNode;
  confirmLabel: string;
  onConfirm: () => void | Promise<void>;
}): void {
  openConfirm({
    title: options.title,
    children: <Text size="sm">{options.message}</Text>,
    labels: { confirm: options.confirmLabel, cancel: 'Cancel' },
    confirmProps: { color: 'red' },
    onConfirm: () => void options.onConfirm(),
  });
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const refused = error instanceof ApiFailure && error.status === 403;
  return (
    <Alert
      color={refused ? 'orange' : 'red'}
      title={refused ? 'Not allowed' : 'Could not load this'}
      role="alert"
      data-testid="error-state"
    >
      <Stack gap="xs">
        <Text size="sm">{errorMessage(error)}</Text>
        {onRetry && !refused && (
          <Group>
            <Button size="xs" variant="light" onClick={onRetry}>
              Try again
            </Button>
          </Group>
        )}
      </Stack>
    </Alert>
  );
}

export function LoadingState({ label = 'Loading…' }: { label?: string }) {
  return (
    <Center py="xl" aria-busy="true">
      <Group gap="sm">
        <Loader size="sm" />
        <Text c="dimmed" size="sm">
          {label}
        </Text>
      </Group>
    </Center>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Stack align="center" gap={4} py="xl" data-testid="empty-state">
      <Text fw={600}>{title}</Text>
      {children && (
        <Text c="dimmed" size="sm" ta="center">
          {children}
        </Text>
      )}
    </Stack>
  );
}

/** Loading, error and empty states around a loaded list or object. */
export function Loaded<T>({
  loader,
  isEmpty,
  empty,
  children,
}: {
  loader: DataLoader<T>;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  // An error always shows: data from before it (a refused reload) must not pass for current.
  if (loader.error !== undefined) return <ErrorState error={loader.error} onRetry={loader.reload} />;
  if (loader.data === undefined) return <LoadingState />;
  if (isEmpty?.(loader.data)) return <>{empty}</>;
  return <>{children(loader.data)}</>;
}
