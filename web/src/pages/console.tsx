import {
  Alert,
  Button,
  Card,
  Code,
  Group,
  Modal,
  Select,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { sampleFor } from '../../../src/endpoints/sample.ts';
import { api, errorMessage } from '../api/client.ts';
import { parseJson, stringifyJson } from '../api/exact-json.ts';
import type { DataRecord, Endpoint, EndpointVersion } from '../api/types.ts';
import { navigate } from '../app/router.ts';
import { useLoader } from '../app/use-loader.ts';
import {
  confirmAction,
  EmptyState,
  ErrorState,
  focusBack,
  LoadingState,
  notifyError,
  notifySuccess,
  SampleUnmet,
  useFocusNext,
} from '../components/feedback.tsx';
import { MACHINE_TEXT } from '../components/machine-text.ts';
import { formatDate, LoadMore, PageHeader } from '../components/page.tsx';
import { ActionsHeader, TableScroll } from '../components/table-scroll.tsx';

interface Page {
  records: DataRecord[];
  next: string | null;
}

type Editing =
  | { mode: 'create' }
  | { mode: 'replace'; record: DataRecord }
  | { mode: 'view'; record: DataRecord };

function preview(data: unknown): string {
  const text = stringifyJson(data);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

export function ConsolePage({ initialSlug }: { initialSlug?: string }) {
  const endpoints = useLoader(() => api.get<Endpoint[]>('/admin/v1/endpoints'), 'endpoints');
  const [slug, setSlug] = useState<string | null>(initialSlug ?? null);
  const [filterField, setFilterField] = useState('');
  const [filterValue, setFilterValue] = useState('');
  const [applied, setApplied] = useState<{ field: string; value: string } | null>(null);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(false);
  const [editing, setEditing] = useState<Editing | null>(null);
  /** The button that opened the record dialog (New record, a row's View or Edit): focus returns to it. */
  const opener = useRef<HTMLElement | null>(null);

  function open(next: Editing, button: HTMLElement) {
    opener.current = button;
    setEditing(next);
  }

  function closeEditing() {
    focusBack(opener.current);
    setEditing(null);
  }

  // The first deployed endpoint (live data exists only for those), else the first.
  useEffect(() => {
    const list = endpoints.data ?? [];
    const first = list.find((e) => e.live_version !== null) ?? list[0];
    if (slug === null && first) setSlug(first.slug);
  }, [endpoints.data, slug]);
  // Back and Forward change the URL's endpoint: the page follows it (none named: the default).
  useEffect(() => {
    setSlug(initialSlug ?? null);
  }, [initialSlug]);

  /** Bumped by each first-page load: an answer for an endpoint or filter left since is dropped. */
  const generation = useRef(0);

  async function load(after: string | null) {
    if (!slug) return;
    const mine = after ? generation.current : ++generation.current;
    setLoading(true);
    setError(undefined);
    try {
      const query: Record<string, string> = { limit: '25' };
      if (after) query.after = after;
      if (applied) query[`filter[${applied.field}]`] = applied.value;
      const result = await api.page<DataRecord[]>(
        `/admin/v1/console/${encodeURIComponent(slug)}/records`,
        query,
      );
      if (mine !== generation.current) return;
      const next = (result.meta?.next_cursor as string | null | undefined) ?? null;
      setPage((current) => ({
        records: after && current ? [...current.records, ...result.data] : result.data,
        next,
      }));
    } catch (failure) {
      if (mine !== generation.current) return;
      setError(failure);
      if (!after) setPage(null);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }

  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the endpoint or the filter changes
  useEffect(() => {
    setPage(null);
    void load(null);
  }, [slug, applied]);

  const endpoint = endpoints.data?.find((e) => e.slug === slug) ?? null;
  const undeployed = endpoint !== null && endpoint.live_version === null;

  function applyFilter(event: FormEvent) {
    event.preventDefault();
    setApplied(
      filterField.trim() && filterValue !== '' ? { field: filterField.trim(), value: filterValue } : null,
    );
  }

  function remove(record: DataRecord) {
    confirmAction({
      title: 'Delete this live record?',
      message: `${record.id} is deleted from production at once. No webhooks are sent for console writes.`,
      confirmLabel: 'Delete record',
      onConfirm: async () => {
        try {
          await api.del(
            `/admin/v1/console/${encodeURIComponent(record.endpoint)}/records/${encodeURIComponent(record.id)}`,
          );
          notifySuccess(`Record ${record.id} deleted`);
          setPage(
            (current) =>
              current && { ...current, records: current.records.filter((r) => r.id !== record.id) },
          );
        } catch (failure) {
          notifyError(failure, 'Could not delete the record');
        }
      },
    });
  }

  return (
    <>
      <PageHeader
        title="Production console"
        description="Live records. Writes here take effect at once, are marked as console writes and fire no webhooks."
        actions={
          <Button
            onClick={(event) => open({ mode: 'create' }, event.currentTarget)}
            disabled={!endpoint || endpoint.live_version === null || error !== undefined}
          >
            New record
          </Button>
        }
      />
      <Card withBorder mb="md">
        <Group align="flex-end" wrap="wrap" gap="sm">
          <Select
            label="Endpoint"
            data={(endpoints.data ?? []).map((e) => ({ value: e.slug, label: `${e.name} (${e.slug})` }))}
            value={slug}
            onChange={(value) => {
              setSlug(value);
              if (value) navigate(`/console/${encodeURIComponent(value)}`);
            }}
            allowDeselect={false}
            placeholder={endpoints.loading ? 'Loading…' : 'Pick an endpoint'}
            w={260}
          />
          <form onSubmit={applyFilter} aria-label="Filter records" style={{ display: 'contents' }}>
            <TextInput
              label="Filter field"
              {...MACHINE_TEXT}
              placeholder="status"
              value={filterField}
              onChange={(e) => setFilterField(e.currentTarget.value)}
              w={160}
            />
            <TextInput
              label="equals"
              {...MACHINE_TEXT}
              placeholder="paid"
              value={filterValue}
              onChange={(e) => setFilterValue(e.currentTarget.value)}
              w={160}
            />
            <Button type="submit" variant="light">
              Apply filter
            </Button>
            {applied && (
              <Button
                variant="subtle"
                onClick={() => {
                  setFilterField('');
                  setFilterValue('');
                  setApplied(null);
                }}
              >
                Clear
              </Button>
            )}
          </form>
        </Group>
      </Card>
      {endpoints.error !== undefined && <ErrorState error={endpoints.error} onRetry={endpoints.reload} />}
      {endpoints.data?.length === 0 && (
        <EmptyState title="No endpoints yet">Create and deploy an endpoint first.</EmptyState>
      )}
      {endpoint && endpoint.live_version === null && (
        <Alert color="yellow" mb="md">
          {endpoint.slug} is not deployed: it has no live records yet. Deploy it to use it in production.
        </Alert>
      )}
      {error !== undefined && !undeployed && <ErrorState error={error} onRetry={() => void load(null)} />}
      {slug && error === undefined && (
        <Card withBorder padding={0}>
          {page === null ? (
            <LoadingState />
          ) : page.records.length === 0 ? (
            <EmptyState title={applied ? 'No records match the filter' : 'No live records'} />
          ) : (
            <>
              <TableScroll minWidth={640}>
                <Table highlightOnHover verticalSpacing="xs" aria-label="Live records">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Id</Table.Th>
                      <Table.Th>Data</Table.Th>
                      <Table.Th>Updated</Table.Th>
                      <ActionsHeader />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {page.records.map((record) => (
                      <Table.Tr key={record.id} data-testid="console-record">
                        <Table.Td ff="monospace" fz="xs">
                          {record.id}
                        </Table.Td>
                        <Table.Td ff="monospace" fz="xs">
                          {preview(record.data)}
                        </Table.Td>
                        <Table.Td fz="sm">{formatDate(record.updated_at)}</Table.Td>
                        <Table.Td>
                          <Group gap={4} wrap="nowrap" justify="flex-end">
                            <Button
                              size="xs"
                              variant="subtle"
                              onClick={(event) => open({ mode: 'view', record }, event.currentTarget)}
                              aria-label={`View ${record.id}`}
                            >
                              View
                            </Button>
                            <Button
                              size="xs"
                              variant="subtle"
                              onClick={(event) => open({ mode: 'replace', record }, event.currentTarget)}
                              aria-label={`Edit ${record.id}`}
                            >
                              Edit
                            </Button>
                            <Button
                              size="xs"
                              variant="subtle"
                              color="red"
                              onClick={() => remove(record)}
                              aria-label={`Delete ${record.id}`}
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
              <LoadMore
                hasMore={Boolean(page.next)}
                loading={loading}
                onMore={() => void load(page.next)}
                end={`${page.records.length} record${page.records.length === 1 ? '' : 's'}, no more`}
              />
            </>
          )}
        </Card>
      )}
      {endpoint && (
        <RecordModal
          editing={editing}
          endpoint={endpoint}
          onClose={closeEditing}
          onSaved={(record, created) => {
            closeEditing();
            // Filtered, the list shows what the server matches: a record written outside the filter
            // (or edited out of it) is not added to or kept in it.
            if (applied) {
              void load(null);
              return;
            }
            setPage((current) => {
              if (!current) return current;
              if (created) return { ...current, records: [record, ...current.records] };
              return { ...current, records: current.records.map((r) => (r.id === record.id ? record : r)) };
            });
          }}
        />
      )}
    </>
  );
}

/** The endpoint's deployed schema (null until read; the draft's if it cannot be read). */
function useDeployedSchema(endpoint: Endpoint): Record<string, unknown> | null {
  const [read, setRead] = useState<{ key: string; schema: Record<string, unknown> } | null>(null);
  const key = `${endpoint.slug}@${endpoint.live_version}`;
  useEffect(() => {
    if (endpoint.live_version === null) return;
    let current = true;
    const keep = (schema: Record<string, unknown>) => {
      if (current) setRead({ key, schema });
    };
    api
      .get<EndpointVersion[]>(`/admin/v1/endpoints/${encodeURIComponent(endpoint.slug)}/versions`)
      .then((versions) =>
        keep(versions.find((v) => v.version === endpoint.live_version)?.schema ?? endpoint.schema),
      )
      .catch(() => keep(endpoint.schema));
    return () => {
      current = false;
    };
  }, [key, endpoint.slug, endpoint.live_version, endpoint.schema]);
  return read?.key === key ? read.schema : null;
}

function RecordModal({
  editing,
  endpoint,
  onClose,
  onSaved,
}: {
  editing: Editing | null;
  endpoint: Endpoint;
  onClose: () => void;
  onSaved: (record: DataRecord, created: boolean) => void;
}) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const alertRef = useRef<HTMLDivElement>(null);
  const focusNext = useFocusNext();

  // The console writes live records, checked against the deployed schema, not the draft the
  // endpoint's own answer carries: the new-record sample is made of the deployed one.
  const deployed = useDeployedSchema(endpoint);
  const sample = useMemo(() => {
    if (deployed === null) return null;
    const made = sampleFor(deployed);
    return { text: stringifyJson(made.value, 2), unmet: made.unmet };
  }, [deployed]);
  useEffect(() => {
    setProblem(null);
    if (!editing) return;
    if (editing.mode === 'create') setText(sample?.text ?? '');
    else setText(stringifyJson(editing.record.data, 2));
  }, [editing, sample]);

  let parseError: string | undefined;
  let parsed: unknown;
  try {
    parsed = parseJson(text);
  } catch (error) {
    parseError = `Not valid JSON: ${(error as Error).message}`;
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!editing || editing.mode === 'view' || parseError) return;
    setBusy(true);
    setProblem(null);
    try {
      const base = `/admin/v1/console/${encodeURIComponent(endpoint.slug)}/records`;
      const record =
        editing.mode === 'create'
          ? await api.post<DataRecord>(base, parsed)
          : await api.put<DataRecord>(`${base}/${encodeURIComponent(editing.record.id)}`, parsed);
      notifySuccess(
        editing.mode === 'create' ? `Record ${record.id} created` : `Record ${record.id} replaced`,
      );
      onSaved(record, editing.mode === 'create');
    } catch (error) {
      setProblem(errorMessage(error));
      // The button was disabled while busy: focus goes to the message (inside the dialog).
      focusNext(() => alertRef.current);
    } finally {
      setBusy(false);
    }
  }

  const title =
    editing?.mode === 'create'
      ? `New live record in ${endpoint.slug}`
      : editing?.mode === 'replace'
        ? `Replace ${editing.record.id}`
        : editing
          ? editing.record.id
          : '';

  return (
    <Modal opened={editing !== null} onClose={onClose} title={title} size="lg">
      {editing?.mode === 'view' ? (
        <Stack>
          <Text size="xs" c="dimmed">
            version {editing.record.version} · created {formatDate(editing.record.created_at)} · updated{' '}
            {formatDate(editing.record.updated_at)}
          </Text>
          <Code block data-testid="record-json">
            {stringifyJson(editing.record.data, 2)}
          </Code>
        </Stack>
      ) : (
        <form onSubmit={submit} aria-label={title}>
          <Stack>
            {problem && (
              <Alert ref={alertRef} color="red" role="alert" title="Refused" tabIndex={-1}>
                {problem}
              </Alert>
            )}
            <Textarea
              label="Record (JSON)"
              description="Validated against the deployed schema"
              value={text}
              onChange={(e) => setText(e.currentTarget.value)}
              autosize
              minRows={8}
              maxRows={24}
              {...MACHINE_TEXT}
              error={parseError}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 13 } }}
              data-autofocus
            />
            {editing?.mode === 'create' && sample && text === sample.text && (
              <SampleUnmet unmet={sample.unmet} />
            )}
            <Group justify="flex-end">
              <Button variant="default" onClick={onClose}>
                Cancel
              </Button>
              <Button type="submit" loading={busy} disabled={parseError !== undefined}>
                {editing?.mode === 'create' ? 'Create record' : 'Replace record'}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
