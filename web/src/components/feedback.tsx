import { Alert, Button, Center, Group, List, Loader, ScrollArea, Stack, Text } from '@mantine/core';
import { modals, type OpenConfirmModal } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { type FormEvent, type ReactNode, type Ref, useCallback, useEffect, useRef, useState } from 'react';
import { ApiFailure, type ErrorDetail, errorMessage } from '../api/client.ts';
import type { Loader as DataLoader } from '../app/use-loader.ts';

/** The success toasts on show, by id: Escape closes them (closeSuccessToasts). */
const successToasts = new Set<string>();
let successCount = 0;

/** A success toast: it closes by itself after 4 s, or sooner by its Close button or Escape. */
export function notifySuccess(message: string): void {
  successCount += 1;
  const id = `success-${successCount}`;
  successToasts.add(id);
  notifications.show({ id, color: 'teal', title: 'Done', message, onClose: () => successToasts.delete(id) });
}

/**
 * Escape closes the success toasts (over the page's controls for 4 s otherwise), once nothing over
 * the page takes it: a dialog, a menu or a select's options close first, one Escape each. An error
 * toast stays until its Close button: it may be read slowly.
 */
export function closeSuccessToastsOnEscape(event: KeyboardEvent): void {
  if (event.key !== 'Escape' || successToasts.size === 0) return;
  // A select's options stay in the page, hidden (no box), while it is closed.
  const over = document.querySelectorAll('[role="dialog"], [role="menu"], [role="listbox"]');
  if ([...over].some((element) => element.getClientRects().length > 0)) return;
  for (const id of successToasts) notifications.hide(id);
  successToasts.clear();
}

/** The page an error toast is about: the route, as in the address (`/endpoints/_new`). */
function currentPage(): string {
  return window.location.hash.replace(/^#/, '').split('?')[0] ?? '';
}

/** The error toasts on show, by id, with the page each was raised on. */
const errorToasts = new Map<string, string>();
let errorCount = 0;

/**
 * An error stays until it is dismissed: it may be read slowly, or missed while looking away. All of
 * a refusal's details are in it; a long list scrolls within the toast. Going to another page
 * closes it (closeErrorsOfOtherPages).
 */
export function notifyError(error: unknown, title = 'Something went wrong'): void {
  errorCount += 1;
  const id = `error-${errorCount}`;
  errorToasts.set(id, currentPage());
  notifications.show({
    id,
    color: 'red',
    title,
    message: (
      <ScrollArea.Autosize mah={240} type="auto">
        {errorMessage(error)}
      </ScrollArea.Autosize>
    ),
    autoClose: false,
    onClose: () => errorToasts.delete(id),
  });
}

/**
 * Closes the error toasts raised on another page than the one shown: "Could not save: slug already
 * exists" otherwise followed the user to every page after, said of none of them, over their content.
 */
export function closeErrorsOfOtherPages(): void {
  const page = currentPage();
  for (const [id, raisedOn] of errorToasts) {
    if (raisedOn === page) continue;
    errorToasts.delete(id);
    notifications.hide(id);
  }
}

/**
 * A form's submit: `busy` while `run` runs; a failure is an error toast titled `failure`. Sent with
 * its button (Enter or Space on it), the button is disabled while busy and focus falls to <body>:
 * it goes back to the button once it is enabled again, unless `run` put it somewhere.
 */
export function useSubmit(run: () => Promise<void>, failure: string) {
  const [busy, setBusy] = useState(false);
  const focusNext = useFocusNext();
  async function submit(event: FormEvent) {
    event.preventDefault();
    const submitter = submitterOf(event);
    setBusy(true);
    try {
      await run();
    } catch (error) {
      notifyError(error, failure);
    } finally {
      setBusy(false);
      focusNext(() => (focusLost() ? submitter : null));
    }
  }
  return { busy, submit };
}

/**
 * Gives focus back when a dialog closes: to `element`, or (gone, as a clicked menu item is, or
 * removed soon after, as a deleted row's button is) to the page's heading, so keyboard and screen
 * reader users are not left on <body>. Called from the
 * dialog's onClose; it runs once the dialog has closed, after Mantine's own focus return looked.
 */
export function focusBack(element: Element | null): void {
  setTimeout(() => {
    if (element instanceof HTMLElement && element.isConnected) {
      element.focus({ preventScroll: true });
      headingWhenRemoved(element);
    } else {
      pageHeading()?.focus();
    }
  }, 0);
}

function pageHeading(): HTMLElement | null {
  return document.querySelector<HTMLElement>('main h1') ?? document.getElementById('main');
}

/** How long after focus went back to an element its removal still sends focus to the heading. */
const REMOVAL_WAIT_MS = 10_000;

/**
 * A confirmed delete or revoke removes the row of the button that opened the dialog, once the list
 * has reloaded: after focus went back to that button, so focus fell to <body>. If `element` is
 * removed while focus is nowhere, focus goes to the page's heading instead.
 */
function headingWhenRemoved(element: HTMLElement): void {
  const observer = new MutationObserver(() => {
    if (element.isConnected) return;
    stop();
    if (focusLost()) pageHeading()?.focus();
  });
  const timer = window.setTimeout(stop, REMOVAL_WAIT_MS);
  function stop() {
    observer.disconnect();
    window.clearTimeout(timer);
  }
  observer.observe(document.body, { childList: true, subtree: true });
}

/** Where focus may go: an element, or nothing (try the next choice). */
export type FocusTarget = () => HTMLElement | null | undefined;

/**
 * Moves focus once React has drawn the next render. A Mantine <Button loading> is disabled while
 * busy, which drops its focus on <body> (and out of an open dialog): call this with where focus
 * goes instead (the first invalid field, an inline error, the result), in order of preference; the
 * first that gives an element gets focus, after the button is enabled and the error is drawn.
 */
export function useFocusNext(): (...targets: FocusTarget[]) => void {
  const pending = useRef<FocusTarget[]>([]);
  const [, setTick] = useState(0);
  useEffect(() => {
    const targets = pending.current;
    if (targets.length === 0) return;
    pending.current = [];
    for (const target of targets) {
      const element = target();
      if (element?.isConnected) {
        element.focus();
        return;
      }
    }
  });
  return useCallback((...targets: FocusTarget[]) => {
    pending.current = [...pending.current, ...targets];
    setTick((t) => t + 1);
  }, []);
}

/** The button a form was sent with (null when sent with Enter in a field). */
export function submitterOf(event: FormEvent): HTMLElement | null {
  return event.nativeEvent instanceof SubmitEvent ? event.nativeEvent.submitter : null;
}

/** Focus is nowhere: on <body> (a disabled button or a removed element had it). */
export function focusLost(): boolean {
  return document.activeElement === null || document.activeElement === document.body;
}

/** The first field marked invalid (`aria-invalid="true"`) inside `scope`, in the page's order. */
export function firstInvalid(scope: Element | null | undefined): HTMLElement | null {
  return scope?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? null;
}

/**
 * A refusal's errors by field (the envelope's `details[].field`, first error of each), for the
 * inputs' `error` props. `field` maps the API's name (`scopes.0`, `limits.per_day`) to the form's.
 */
export function refusedFields(
  error: unknown,
  field: (name: string) => string | null = (name) => name,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(error instanceof ApiFailure)) return out;
  for (const detail of error.details) {
    const name = field(detail.field);
    if (name !== null && !(name in out)) out[name] = detail.error;
  }
  return out;
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

/**
 * What of a refusal no input of the form shows, for the form's alert: all of it (its message and
 * details) when no input shows any of it, else the details of the fields without an input, else
 * nothing (null: the inputs say it all). `field` maps the API's name to the form's, null for one no
 * input shows, as for refusedFields: together they say a refusal once, each error in one place.
 */
export function refusalBeyondFields(
  error: unknown,
  field: (name: string) => string | null,
): { message: string | null; details: ErrorDetail[] } | null {
  if (!(error instanceof ApiFailure)) return { message: errorMessage(error), details: [] };
  const rest = error.details.filter((d) => field(d.field) === null);
  if (rest.length === error.details.length) return { message: error.message, details: error.details };
  return rest.length > 0 ? { message: null, details: rest } : null;
}

/**
 * A refusal shown in the form that was sent (a dialog's, say), not in a toast: what no input of
 * the form shows (refusalBeyondFields; the inputs show theirs, from refusedFields with the same
 * `field`), each field called by its label. Nothing when the inputs say it all. Focusable
 * (tabIndex -1) for when no field is.
 */
export function RefusedAlert({
  title,
  error,
  field,
  label = (name) => name,
  ref,
}: {
  title: string;
  error: unknown;
  /** The form's field that shows an API field's error, null for none (`expires_at` is shown). */
  field: (name: string) => string | null;
  /** The form's label of an API field name (`expires_at` is "Expires at"). */
  label?: (name: string) => string;
  ref?: Ref<HTMLDivElement>;
}) {
  const rest = refusalBeyondFields(error, field);
  if (rest === null) return null;
  return (
    <Alert ref={ref} color="red" role="alert" title={title} tabIndex={-1} data-testid="refused-alert">
      {rest.message !== null && <Text size="sm">{rest.message}</Text>}
      {rest.details.length > 0 && (
        <List size="sm" mt={rest.message !== null ? 4 : 0}>
          {rest.details.map((d) => (
            <List.Item key={`${d.field}:${d.error}`}>
              {label(d.field)}: {d.error}
            </List.Item>
          ))}
        </List>
      )}
    </Alert>
  );
}

/**
 * Says where a sample payload does not meet its schema (no string of a field's pattern has the
 * lengths it asks for, say), so an invalid sample is not offered as a valid one.
 */
export function SampleUnmet({ unmet }: { unmet: string[] }) {
  if (unmet.length === 0) return null;
  return (
    <Alert color="yellow" title="The sample does not meet the schema" data-testid="sample-unmet">
      No value was found that meets every keyword of {unmet.join(', ')}: fill it in by hand.
    </Alert>
  );
}

export function LoadingState({ label = 'Loading…' }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-busy="true">
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
