import {
  Badge,
  Button,
  Card,
  Checkbox,
  Group,
  Modal,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api } from '../api/client.ts';
import {
  type Endpoint,
  type Environment,
  EVENT_TYPES,
  type EventType,
  type Subscription,
} from '../api/types.ts';
import { href, navigate } from '../app/router.ts';
import { useLoader } from '../app/use-loader.ts';
import {
  confirmAction,
  EmptyState,
  firstInvalid,
  focusBack,
  Loaded,
  notifyError,
  notifySuccess,
  RefusedAlert,
  refusedFields,
  useFocusNext,
} from '../components/feedback.tsx';
import { formatDate, PageHeader, timeAgo } from '../components/page.tsx';
import { SecretReveal } from '../components/secret.tsx';
import { ActionsHeader, TableScroll } from '../components/table-scroll.tsx';
import { EnvironmentBadge } from './keys.tsx';

/** The endpoint choice (and `#/webhooks/*`) for every endpoint's subscriptions at once. */
const ALL = '*';

export function WebhooksPage({ initialSlug }: { initialSlug?: string }) {
  const endpoints = useLoader(() => api.get<Endpoint[]>('/admin/v1/endpoints'), 'endpoints');
  const [slug, setSlug] = useState<string | null>(initialSlug ?? null);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Subscription | null>(null);
  const [secret, setSecret] = useState<{
    title: string;
    secret: string;
    note?: string;
    fromCreate?: boolean;
  } | null>(null);
  const newButton = useRef<HTMLButtonElement>(null);
  /** The row's Edit button that opened the edit dialog: focus goes back to it. */
  const editOpener = useRef<HTMLElement | null>(null);

  function closeEditing() {
    focusBack(editOpener.current);
    setEditing(null);
  }

  /** Closes the one view of a secret; a new subscription's flow gives focus back to its button. */
  function closeSecret() {
    if (secret?.fromCreate) focusBack(newButton.current);
    setSecret(null);
  }

  useEffect(() => {
    if (slug === null && endpoints.data?.[0]) setSlug(endpoints.data[0].slug);
  }, [endpoints.data, slug]);
  // Back and Forward change the URL's endpoint: the page follows it (none named: the default).
  useEffect(() => {
    setSlug(initialSlug ?? null);
  }, [initialSlug]);

  const subscriptions = useLoader(
    () =>
      slug === ALL
        ? api.get<Subscription[]>('/admin/v1/webhooks')
        : slug
          ? api.get<Subscription[]>(`/admin/v1/endpoints/${encodeURIComponent(slug)}/webhooks`)
          : Promise.resolve<Subscription[]>([]),
    slug ?? '',
  );

  async function setEnabled(sub: Subscription, enabled: boolean) {
    try {
      await api.patch(`/admin/v1/webhooks/${sub.id}`, { enabled });
      notifySuccess(enabled ? 'Subscription enabled' : 'Subscription disabled');
      subscriptions.reload();
    } catch (error) {
      notifyError(error);
    }
  }

  function rotate(sub: Subscription) {
    confirmAction({
      title: 'Rotate the signing secret?',
      message: 'A new secret signs every delivery from now on; the old one also signs them for 24 hours.',
      confirmLabel: 'Rotate secret',
      onConfirm: async () => {
        try {
          const rotated = await api.post<Subscription & { secret: string }>(
            `/admin/v1/webhooks/${sub.id}/rotate-secret`,
          );
          setSecret({
            title: 'New signing secret',
            secret: rotated.secret,
            note: `The previous secret keeps signing until ${formatDate(rotated.previous_secret_expires_at)}.`,
          });
          subscriptions.reload();
        } catch (error) {
          notifyError(error, 'Could not rotate the secret');
        }
      },
    });
  }

  function remove(sub: Subscription) {
    confirmAction({
      title: 'Delete this subscription?',
      message: `Nothing more is sent to ${sub.url}.`,
      confirmLabel: 'Delete subscription',
      onConfirm: async () => {
        try {
          await api.del(`/admin/v1/webhooks/${sub.id}`);
          notifySuccess('Subscription deleted');
          subscriptions.reload();
        } catch (error) {
          notifyError(error);
        }
      },
    });
  }

  return (
    <>
      <PageHeader
        title="Webhooks"
        description={
          <>
            Subscriptions get every change to an endpoint's records, signed (Standard Webhooks). See the{' '}
            <a href={href('/deliveries')}>delivery log</a>.
          </>
        }
        actions={
          <Button ref={newButton} disabled={!slug || slug === ALL} onClick={() => setCreating(true)}>
            New subscription
          </Button>
        }
      />
      <Card withBorder mb="md">
        <Select
          label="Endpoint"
          data={[
            ...(endpoints.data?.length ? [{ value: ALL, label: 'All endpoints' }] : []),
            ...(endpoints.data ?? []).map((e) => ({ value: e.slug, label: `${e.name} (${e.slug})` })),
          ]}
          value={slug}
          onChange={(value) => {
            setSlug(value);
            if (value) navigate(`/webhooks/${value === ALL ? ALL : encodeURIComponent(value)}`);
          }}
          description={slug === ALL ? 'Pick one endpoint to add a subscription to it.' : undefined}
          allowDeselect={false}
          placeholder={endpoints.loading ? 'Loading…' : 'Pick an endpoint'}
          maw={320}
        />
      </Card>
      {endpoints.data?.length === 0 ? (
        <EmptyState title="No endpoints yet">Create an endpoint first.</EmptyState>
      ) : (
        <Card withBorder padding={0}>
          <Loaded
            loader={subscriptions}
            isEmpty={(list) => list.length === 0}
            empty={<EmptyState title="No subscriptions">Add one to be told about every change.</EmptyState>}
          >
            {(list) => (
              <TableScroll minWidth={720}>
                <Table verticalSpacing="sm" aria-label="Webhook subscriptions">
                  <Table.Thead>
                    <Table.Tr>
                      {slug === ALL && <Table.Th>Endpoint</Table.Th>}
                      <Table.Th>URL</Table.Th>
                      <Table.Th>Environment</Table.Th>
                      <Table.Th>Events</Table.Th>
                      <Table.Th>Enabled</Table.Th>
                      <ActionsHeader />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {list.map((sub) => (
                      <Table.Tr key={sub.id} data-testid="subscription-row">
                        {slug === ALL && (
                          <Table.Td>
                            <Text size="sm" ff="monospace">
                              {sub.endpoint}
                            </Text>
                          </Table.Td>
                        )}
                        <Table.Td>
                          <Text size="sm" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
                            {sub.url}
                          </Text>
                          {sub.disabled_reason && (
                            <Text size="xs" c="red.7">
                              Disabled: {sub.disabled_reason}
                            </Text>
                          )}
                          {sub.failing_since && (
                            <Text size="xs" c="orange.7">
                              Failing since {timeAgo(sub.failing_since)}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>
                          <EnvironmentBadge environment={sub.environment} />
                        </Table.Td>
                        <Table.Td>
                          <Group gap={4}>
                            {sub.events.map((e) => (
                              <Badge key={e} variant="outline" size="sm">
                                {e}
                              </Badge>
                            ))}
                          </Group>
                        </Table.Td>
                        <Table.Td>
                          <Switch
                            checked={sub.enabled}
                            onChange={(e) => void setEnabled(sub, e.currentTarget.checked)}
                            aria-label={`Enabled: ${sub.url}`}
                          />
                        </Table.Td>
                        <Table.Td>
                          <Group gap={4} wrap="nowrap" justify="flex-end">
                            <Button
                              size="xs"
                              variant="subtle"
                              onClick={(event) => {
                                editOpener.current = event.currentTarget;
                                setEditing(sub);
                              }}
                              aria-label={`Edit ${sub.url}`}
                            >
                              Edit
                            </Button>
                            <Button
                              size="xs"
                              variant="subtle"
                              onClick={() => rotate(sub)}
                              aria-label={`Rotate secret for ${sub.url}`}
                            >
                              Rotate secret
                            </Button>
                            <Button
                              size="xs"
                              variant="subtle"
                              color="red"
                              onClick={() => remove(sub)}
                              aria-label={`Delete ${sub.url}`}
                            >
                              Delete
                            </Button>
                          </Group>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </TableScroll>
            )}
          </Loaded>
        </Card>
      )}
      {slug && slug !== ALL && (
        <SubscriptionModal
          slug={slug}
          opened={creating}
          onClose={() => {
            focusBack(newButton.current);
            setCreating(false);
          }}
          onSaved={(created) => {
            setCreating(false);
            if (created.secret)
              setSecret({ title: 'Signing secret', secret: created.secret, fromCreate: true });
            subscriptions.reload();
          }}
        />
      )}
      {slug && (
        <SubscriptionModal
          slug={editing?.endpoint ?? slug}
          opened={editing !== null}
          editing={editing ?? undefined}
          onClose={closeEditing}
          onSaved={() => {
            closeEditing();
            notifySuccess('Subscription saved');
            subscriptions.reload();
          }}
        />
      )}
      <Modal
        opened={secret !== null}
        onClose={closeSecret}
        title={secret?.title}
        size="lg"
        closeOnClickOutside={false}
        closeOnEscape={false}
      >
        {secret && (
          <Stack>
            <SecretReveal
              label="Signing secret"
              secret={secret.secret}
              note={secret.note}
              storedAs="encrypted"
            />
            <Group justify="flex-end">
              <Button variant="default" onClick={closeSecret}>
                I have saved it
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}

/**
 * A new subscription, or (with `editing`) a change to one's URL and events: deliveries still to go
 * follow it to a new URL. Its environment and signing secret stay.
 */
function SubscriptionModal({
  slug,
  opened,
  editing,
  onClose,
  onSaved,
}: {
  slug: string;
  opened: boolean;
  editing?: Subscription;
  onClose: () => void;
  onSaved: (saved: Subscription & { secret?: string }) => void;
}) {
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={editing ? 'Edit subscription' : `New subscription for ${slug}`}
      size="lg"
    >
      {opened && (
        <SubscriptionForm
          key={editing?.id ?? 'new'}
          slug={slug}
          editing={editing}
          onClose={onClose}
          onSaved={onSaved}
        />
      )}
    </Modal>
  );
}

/** The fields that show their own refusal (the rest go to the form's alert). */
const ON_FIELD = new Set(['url', 'events']);
const subscriptionField = (name: string) => (ON_FIELD.has(name) ? name : null);

function SubscriptionForm({
  slug,
  editing,
  onClose,
  onSaved,
}: {
  slug: string;
  editing?: Subscription;
  onClose: () => void;
  onSaved: (saved: Subscription & { secret?: string }) => void;
}) {
  const [url, setUrl] = useState(editing?.url ?? '');
  const [environment, setEnvironment] = useState<Environment>(editing?.environment ?? 'test');
  // The API's default, so the dashboard and the CLI make the same subscription (docs/webhooks.md).
  const [events, setEvents] = useState<string[]>(
    editing ? [...editing.events] : EVENT_TYPES.filter((e) => e !== 'request.failed'),
  );
  const [busy, setBusy] = useState(false);
  /** The server's refusal: the fields show theirs, the alert the rest (an environment's error…). */
  const [refusal, setRefusal] = useState<unknown>(null);
  /** The server's errors by field: the URL's is shown (and marked invalid) on the URL field. */
  const [errors, setErrors] = useState<Record<string, string>>({});
  const formRef = useRef<HTMLFormElement>(null);
  const alertRef = useRef<HTMLDivElement>(null);
  const focusNext = useFocusNext();
  const patch: { url?: string; events?: EventType[] } = {};
  if (editing && url.trim() !== editing.url) patch.url = url.trim();
  if (editing && [...events].sort().join() !== [...editing.events].sort().join())
    patch.events = events as EventType[];
  const unchanged = editing !== undefined && Object.keys(patch).length === 0;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (unchanged) return;
    setBusy(true);
    setRefusal(null);
    setErrors({});
    try {
      const saved = editing
        ? await api.patch<Subscription>(`/admin/v1/webhooks/${editing.id}`, patch)
        : await api.post<Subscription & { secret: string }>(
            `/admin/v1/endpoints/${encodeURIComponent(slug)}/webhooks`,
            { url: url.trim(), environment, events: events as EventType[] },
          );
      onSaved(saved);
    } catch (error) {
      // Said once, in the form: on the field it is about, else in the alert above the fields (not
      // also in a toast, nor repeated in the alert when the field already says it).
      setErrors(refusedFields(error, subscriptionField));
      setRefusal(error);
      // The button was disabled while busy: focus goes to the refused field, else the message.
      focusNext(
        () => firstInvalid(formRef.current),
        () => alertRef.current,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <form ref={formRef} onSubmit={submit} aria-label={editing ? 'Edit subscription' : 'New subscription'}>
      <Stack>
        {refusal !== null && (
          <RefusedAlert
            ref={alertRef}
            title={editing ? 'Could not save the subscription' : 'Could not create the subscription'}
            error={refusal}
            field={subscriptionField}
          />
        )}
        <TextInput
          label="URL"
          description={
            editing
              ? 'Where deliveries are POSTed (http or https). Deliveries still to go follow a new URL.'
              : 'Where deliveries are POSTed (http or https)'
          }
          placeholder="https://partner.example/hooks"
          type="url"
          required
          value={url}
          onChange={(e) => {
            setUrl(e.currentTarget.value);
            setErrors(({ url: _, ...rest }) => rest);
          }}
          error={errors.url}
          data-autofocus
        />
        <Stack gap={4}>
          <Text size="sm" fw={500} id="sub-env-label">
            Environment
          </Text>
          <SegmentedControl
            aria-labelledby="sub-env-label"
            value={environment}
            disabled={editing !== undefined}
            onChange={(v) => setEnvironment(v as Environment)}
            data={[
              { value: 'test', label: 'Test' },
              { value: 'live', label: 'Live' },
            ]}
          />
        </Stack>
        <Checkbox.Group
          label="Events"
          value={events}
          onChange={(next) => {
            setEvents(next);
            setErrors(({ events: _, ...rest }) => rest);
          }}
          error={errors.events}
          required
        >
          <Stack gap={6} mt={6}>
            {EVENT_TYPES.map((e) => (
              <Checkbox key={e} value={e} label={e} />
            ))}
          </Stack>
        </Checkbox.Group>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button
            type="submit"
            loading={busy}
            disabled={url.trim() === '' || events.length === 0 || unchanged}
          >
            {editing ? 'Save changes' : 'Create subscription'}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
