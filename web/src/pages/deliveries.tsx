import {
  Badge,
  Button,
  Card,
  Code,
  Drawer,
  Group,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Timeline,
} from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { api } from '../api/client.ts';
import { type Delivery, type Endpoint, EVENT_TYPES, type EventType } from '../api/types.ts';
import { oneOf, setRouteQuery, useRouteQuery } from '../app/router.ts';
import { useUser } from '../app/session.tsx';
import { type Loader, useLoader } from '../app/use-loader.ts';
import { EmptyState, ErrorState, LoadingState, notifyError, notifySuccess } from '../components/feedback.tsx';
import { MACHINE_TEXT } from '../components/machine-text.ts';
import { formatDate, jsonText, LoadMore, PageHeader, timeAgo } from '../components/page.tsx';
import { SecretDialog } from '../components/secret.tsx';
import { TableScroll } from '../components/table-scroll.tsx';
import classes from './deliveries.module.css';
import { EnvironmentBadge } from './keys.tsx';
import { ENVIRONMENTS, type EnvironmentShown } from './usage.tsx';

const STATUS_COLOR: Record<string, string> = {
  pending: 'yellow',
  succeeded: 'teal',
  failed: 'red',
  cancelled: 'gray',
};

interface Page {
  items: Delivery[];
  next: string | null;
}

interface Filters {
  endpoint: string;
  record: string;
  request: string;
}

const NO_FILTERS: Filters = { endpoint: '', record: '', request: '' };
const STATUSES = ['all', 'pending', 'succeeded', 'failed', 'cancelled'] as const;
type StatusShown = (typeof STATUSES)[number];
/** Both environments by default, as the list showed before it could pick one. */
const DEFAULT_ENVIRONMENT: EnvironmentShown = 'both';
type EventShown = EventType | 'any';
const EVENTS: { value: EventShown; label: string }[] = [
  { value: 'any', label: 'Any event' },
  ...EVENT_TYPES.map((type) => ({ value: type, label: type })),
];

/** The filters the address names (`#/deliveries?endpoint=orders&record_id=rec_…`), as typed there. */
function filtersIn(address: URLSearchParams): Filters {
  const value = (name: string) => address.get(name)?.trim() ?? '';
  return { endpoint: value('endpoint'), record: value('record_id'), request: value('request_id') };
}

/**
 * The filters to list by: an endpoint the list does not have (mistyped, or deleted since) is Any
 * endpoint, as the picker shows it; undefined while that list loads. One that could not be loaded
 * checks nothing: the server takes any slug.
 */
function knownFilters(filters: Filters, endpoints: Loader<Endpoint[]>): Filters | undefined {
  if (filters.endpoint === '' || endpoints.error !== undefined) return filters;
  if (endpoints.data === undefined) return undefined;
  return endpoints.data.some((e) => e.slug === filters.endpoint) ? filters : { ...filters, endpoint: '' };
}

/**
 * The installation's callback secret (owner only): the root each API key's callback signing
 * secret derives from, not for partners. Read on demand, never kept in the page.
 */
function CallbackSecretButton() {
  const [secret, setSecret] = useState<string | null>(null);
  async function open() {
    try {
      setSecret((await api.get<{ secret: string }>('/admin/v1/webhook-signing-secret')).secret);
    } catch (error) {
      notifyError(error);
    }
  }
  return (
    <>
      <Button variant="default" onClick={open}>
        Callback root secret
      </Button>
      <SecretDialog
        title="Callback root secret"
        secret={secret}
        onClose={() => setSecret(null)}
        testId="callback-secret"
      >
        The root that each API key's callback signing secret is derived from. Do not give it to partners: the
        callbacks a request asks for with <Code>X-Webhook-Callback</Code> are signed with the secret of the
        key that made it. Give each partner its key's secret (API keys, then Actions, Callback signing
        secret). Subscriptions are signed with their own secrets.
      </SecretDialog>
    </>
  );
}

/** How often a page with a delivery due soon looks again. */
const POLL_MS = 3_000;
/** A pending delivery whose next attempt is at most this far off is due soon. */
const DUE_SOON_MS = 60_000;
/** A delivery overdue by more than this waits for a worker: the page stops looking (Refresh does). */
const OVERDUE_MS = 120_000;
/** setTimeout's longest wait (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * When to look at the list again (ms from now): soon while a pending delivery is due within
 * DUE_SOON_MS, else when the soonest one comes that near; null when none is pending, or all that
 * are were due long ago.
 */
function nextLook(items: Delivery[], now: number): number | null {
  let soonest: number | null = null;
  for (const d of items) {
    if (d.status !== 'pending' || d.next_attempt_at === null) continue;
    const at = Date.parse(d.next_attempt_at);
    if (at >= now - OVERDUE_MS && (soonest === null || at < soonest)) soonest = at;
  }
  if (soonest === null) return null;
  return soonest - now <= DUE_SOON_MS ? POLL_MS : Math.min(soonest - now - DUE_SOON_MS, MAX_TIMER_MS);
}

export function DeliveriesPage() {
  const isOwner = useUser().role === 'owner';
  const endpoints = useLoader(() => api.get<Endpoint[]>('/admin/v1/endpoints'), 'endpoints');
  // What the list shows is kept in the address (#/deliveries?environment=test&status=failed&
  // endpoint=orders): a reload or a shared link shows the same list. A status, environment or
  // event type that is not one is the default (All, Both, Any event), never sent to the server.
  const address = useRouteQuery();
  const status = oneOf(address.get('status'), STATUSES, 'all');
  const environment = oneOf(address.get('environment'), ENVIRONMENTS, DEFAULT_ENVIRONMENT);
  const eventType = oneOf(address.get('event_type'), EVENTS, 'any');
  const applied = knownFilters(filtersIn(address), endpoints);
  // What is typed (applied with the button, not per keystroke): the address's, whenever it changes.
  const appliedKey = applied && `${applied.endpoint}|${applied.record}|${applied.request}`;
  const [typed, setTyped] = useState<Filters>(applied ?? filtersIn(address));
  const [typedFrom, setTypedFrom] = useState(appliedKey);
  if (typedFrom !== appliedKey) {
    setTypedFrom(appliedKey);
    if (applied) setTyped(applied);
  }
  /** Lists by `next` (the rest as shown), in place: no history entry for a filter. */
  const show = (next: {
    environment?: EnvironmentShown;
    status?: StatusShown;
    eventType?: EventShown;
    filters?: Filters;
  }) => {
    const inEnvironment = next.environment ?? environment;
    const shown = next.status ?? status;
    const ofType = next.eventType ?? eventType;
    const filters = next.filters ?? applied ?? typed;
    setRouteQuery({
      environment: inEnvironment === DEFAULT_ENVIRONMENT ? undefined : inEnvironment,
      status: shown === 'all' ? undefined : shown,
      event_type: ofType === 'any' ? undefined : ofType,
      endpoint: filters.endpoint.trim() || undefined,
      record_id: filters.record.trim() || undefined,
      request_id: filters.request.trim() || undefined,
    });
  };
  const [extra, setExtra] = useState<Page | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [openId, setOpenId] = useState<string | null>(null);
  const query = {
    environment: environment === 'both' ? undefined : environment,
    status: status === 'all' ? undefined : status,
    event_type: eventType === 'any' ? undefined : eventType,
    endpoint: applied?.endpoint || undefined,
    record_id: applied?.record || undefined,
    request_id: applied?.request || undefined,
  };
  const filtered = Object.values(query).some((value) => value !== undefined);
  const listKey = `${environment}|${status}|${eventType}|${appliedKey ?? '(endpoints loading)'}`;
  const first = useLoader(async (): Promise<Page | null> => {
    setExtra(null);
    // Not listed until the endpoint named is known to be one (shown as loading meanwhile).
    if (applied === undefined) return null;
    const r = await api.page<Delivery[]>('/admin/v1/deliveries', { ...query, limit: 25 });
    return { items: r.data, next: (r.meta?.next_cursor as string | null | undefined) ?? null };
  }, listKey);
  const page = extra ?? first.data;
  /** The list on show: a next page asked for before the filters changed is not added to it. */
  const shownKey = useRef(listKey);
  shownKey.current = listKey;

  // While a pending delivery on the first page is due soon (a redelivery, a retry a moment away),
  // look again every few seconds, so that it turns delivered or failed without a click. One whose
  // next attempt is far off is looked at again once it comes near, not polled for meanwhile, and
  // one long overdue (no worker running) not at all; nor once more pages are open.
  const watched = extra === null ? first.data?.items : undefined;
  const { loading, reload } = first;
  useEffect(() => {
    if (!watched || loading) return;
    const wait = nextLook(watched, Date.now());
    if (wait === null) return;
    const timer = setTimeout(reload, wait);
    return () => clearTimeout(timer);
  }, [watched, loading, reload]);

  async function more() {
    if (!page?.next) return;
    const asked = listKey;
    setLoadingMore(true);
    try {
      const r = await api.page<Delivery[]>('/admin/v1/deliveries', { ...query, limit: 25, after: page.next });
      if (shownKey.current !== asked) return;
      setExtra({
        items: [...page.items, ...r.data],
        next: (r.meta?.next_cursor as string | null | undefined) ?? null,
      });
    } catch (error) {
      notifyError(error);
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <>
      <PageHeader
        title="Deliveries"
        description="Every webhook delivery, newest first, with each attempt's response. Production is live, Sandbox is test."
        actions={
          <Group gap="xs">
            {isOwner && <CallbackSecretButton />}
            <Button variant="default" onClick={first.reload}>
              Refresh
            </Button>
          </Group>
        }
      />
      <Group mb="md" align="flex-end">
        <SegmentedControl
          aria-label="Environment"
          value={environment}
          onChange={(value) => show({ environment: oneOf(value, ENVIRONMENTS, DEFAULT_ENVIRONMENT) })}
          data={ENVIRONMENTS}
        />
        <SegmentedControl
          className={classes.statusFilter}
          aria-label="Filter by status"
          value={status}
          onChange={(value) => show({ status: oneOf(value, STATUSES, 'all') })}
          data={[...STATUSES]}
        />
        <Select
          label="Event"
          data={EVENTS}
          value={eventType}
          onChange={(value) => show({ eventType: oneOf(value, EVENTS, 'any') })}
          allowDeselect={false}
          w={180}
        />
        <form
          aria-label="Filter deliveries"
          onSubmit={(event) => {
            event.preventDefault();
            show({ filters: typed });
          }}
        >
          <Group align="flex-end" gap="xs">
            <Select
              label="Endpoint"
              placeholder={endpoints.loading ? 'Loading…' : 'Any endpoint'}
              data={(endpoints.data ?? []).map((e) => ({ value: e.slug, label: `${e.name} (${e.slug})` }))}
              value={typed.endpoint === '' ? null : typed.endpoint}
              onChange={(value) => setTyped({ ...typed, endpoint: value ?? '' })}
              searchable
              clearable
              nothingFoundMessage="No endpoint matches"
              // Mantine hides the × from the keyboard and screen readers: here it is a named button.
              clearButtonProps={{ 'aria-label': 'Any endpoint', 'aria-hidden': false, tabIndex: 0 }}
              error={endpoints.error === undefined ? undefined : 'Could not load the endpoints'}
              w={240}
            />
            <TextInput
              label="Record id"
              {...MACHINE_TEXT}
              placeholder="rec_…"
              value={typed.record}
              onChange={(e) => setTyped({ ...typed, record: e.currentTarget.value })}
            />
            <TextInput
              label="Request id"
              {...MACHINE_TEXT}
              placeholder="req_…"
              value={typed.request}
              onChange={(e) => setTyped({ ...typed, request: e.currentTarget.value })}
            />
            <Button type="submit" variant="light">
              Apply filters
            </Button>
            <Button
              variant="subtle"
              onClick={() => {
                setTyped(NO_FILTERS);
                show({ filters: NO_FILTERS });
              }}
            >
              Clear
            </Button>
          </Group>
        </form>
      </Group>
      <Card withBorder padding={0}>
        {first.error !== undefined ? (
          <ErrorState error={first.error} onRetry={first.reload} />
        ) : !page ? (
          <LoadingState />
        ) : page.items.length === 0 ? (
          // A filter that matches nothing is not an installation without deliveries.
          <EmptyState title={filtered ? 'No deliveries match the filters' : 'No deliveries'}>
            {filtered
              ? 'Pick another environment, status or event, or clear the filters, to see the others.'
              : 'Deliveries appear here when records change and a target is set.'}
          </EmptyState>
        ) : (
          <>
            <TableScroll minWidth={800}>
              <Table highlightOnHover verticalSpacing="xs" aria-label="Deliveries">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Event</Table.Th>
                    <Table.Th>Environment</Table.Th>
                    <Table.Th>Target</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Attempts</Table.Th>
                    <Table.Th>Last code</Table.Th>
                    <Table.Th>When</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {page.items.map((d) => (
                    <Table.Tr
                      key={d.id}
                      style={{ cursor: 'pointer' }}
                      onClick={() => setOpenId(d.id)}
                      data-testid="delivery-row"
                    >
                      <Table.Td>
                        <Text size="sm" fw={500}>
                          {d.event_type}
                        </Text>
                        <Text size="xs" c="dimmed">
                          {d.endpoint ?? '—'} · {d.record_id}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <EnvironmentBadge environment={d.environment} />
                      </Table.Td>
                      <Table.Td>
                        <Text size="xs" ff="monospace" maw={260} truncate>
                          {d.url}
                        </Text>
                        <Text size="xs" c="dimmed">
                          {d.target}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Badge color={STATUS_COLOR[d.status] ?? 'gray'}>{d.status}</Badge>
                      </Table.Td>
                      <Table.Td>
                        {d.attempt_count} / {d.max_attempts}
                      </Table.Td>
                      <Table.Td ff="monospace">{d.last_status_code ?? '—'}</Table.Td>
                      <Table.Td fz="sm">
                        <Button
                          size="compact-xs"
                          variant="subtle"
                          className={classes.details}
                          onClick={(e) => {
                            e.stopPropagation();
                            setOpenId(d.id);
                          }}
                          aria-label={`${timeAgo(d.created_at)} — details of ${d.id}`}
                        >
                          {timeAgo(d.created_at)}
                        </Button>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </TableScroll>
            <LoadMore
              hasMore={Boolean(page.next)}
              loading={loadingMore}
              onMore={() => void more()}
              end="No more deliveries"
            />
          </>
        )}
      </Card>
      <DeliveryDrawer id={openId} onClose={() => setOpenId(null)} onRedelivered={first.reload} />
    </>
  );
}

function DeliveryDrawer({
  id,
  onClose,
  onRedelivered,
}: {
  id: string | null;
  onClose: () => void;
  onRedelivered: () => void;
}) {
  const delivery = useLoader(
    () => (id ? api.get<Delivery>(`/admin/v1/deliveries/${encodeURIComponent(id)}`) : Promise.resolve(null)),
    id ?? '',
  );
  const [busy, setBusy] = useState(false);

  async function redeliver() {
    if (!id) return;
    setBusy(true);
    try {
      const fresh = await api.post<Delivery>(`/admin/v1/deliveries/${encodeURIComponent(id)}/redeliver`);
      notifySuccess(`Redelivery queued (${fresh.id})`);
      onRedelivered();
      onClose();
    } catch (error) {
      notifyError(error, 'Could not redeliver');
    } finally {
      setBusy(false);
    }
  }

  const d = delivery.data;
  return (
    <Drawer opened={id !== null} onClose={onClose} position="right" size="lg" title="Delivery">
      {delivery.error !== undefined ? (
        <ErrorState error={delivery.error} onRetry={delivery.reload} />
      ) : !d ? (
        <LoadingState />
      ) : (
        <Stack data-testid="delivery-detail">
          <Group gap="xs">
            <Badge color={STATUS_COLOR[d.status] ?? 'gray'}>{d.status}</Badge>
            <EnvironmentBadge environment={d.environment} />
            <Text size="sm" fw={600}>
              {d.event_type}
            </Text>
          </Group>
          <Text size="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>
            POST {d.url}
          </Text>
          <Text size="xs" c="dimmed">
            {d.id} · event {d.event_id} · record {d.record_id} · created {formatDate(d.created_at)}
            {d.next_attempt_at ? ` · next attempt ${formatDate(d.next_attempt_at)}` : ''}
          </Text>
          <Group>
            <Button
              onClick={() => void redeliver()}
              loading={busy}
              aria-describedby={d.status === 'pending' ? 'redeliver-pending' : undefined}
            >
              Redeliver
            </Button>
          </Group>
          {d.status === 'pending' && (
            // A redelivery is a new delivery of the same event: this one's attempts go on as well,
            // so the receiver gets the event twice more (deduplicate by webhook-id).
            <Text size="xs" c="dimmed" id="redeliver-pending">
              This delivery is still being tried
              {d.next_attempt_at ? ` (next attempt ${formatDate(d.next_attempt_at)})` : ''}: Redeliver sends
              the event once more now, and its own attempts go on too.
            </Text>
          )}
          <Text fw={600} size="sm">
            Attempts ({d.attempts.length} of {d.max_attempts})
          </Text>
          {d.attempts.length === 0 ? (
            <Text size="sm" c="dimmed">
              No attempt yet.
            </Text>
          ) : (
            <Timeline bulletSize={14} lineWidth={2} active={d.attempts.length - 1}>
              {d.attempts.map((a) => (
                <Timeline.Item
                  key={`${a.attempted_at}-${a.duration_ms}-${a.status_code}`}
                  color={a.status_code !== null && a.status_code < 300 ? 'teal' : 'red'}
                  title={
                    <Group gap="xs">
                      <Text size="sm" fw={500}>
                        {a.status_code ?? 'no response'}
                      </Text>
                      <Text size="xs" c="dimmed">
                        {formatDate(a.attempted_at)} · {a.duration_ms} ms
                      </Text>
                    </Group>
                  }
                >
                  {a.error && (
                    <Text size="xs" c="red.7">
                      {a.error}
                    </Text>
                  )}
                  {a.response_body && (
                    <Code block fz="xs" mt={4}>
                      {jsonText(a.response_body)}
                    </Code>
                  )}
                </Timeline.Item>
              ))}
            </Timeline>
          )}
        </Stack>
      )}
    </Drawer>
  );
}
