import { Badge, Card, Code, Group, Select, Table, TextInput } from '@mantine/core';
import { useDebouncedCallback } from '@mantine/hooks';
import { useRef, useState } from 'react';
import { AUDIT_ACTIONS } from '../../../src/dashboard/audit-actions.ts';
import { api } from '../api/client.ts';
import { stringifyJson } from '../api/exact-json.ts';
import type { AuditEntry } from '../api/types.ts';
import { setRouteQuery, useRouteQuery } from '../app/router.ts';
import { useLoader } from '../app/use-loader.ts';
import { EmptyState, ErrorState, LoadingState, notifyError } from '../components/feedback.tsx';
import { MACHINE_TEXT } from '../components/machine-text.ts';
import { formatDate, LoadMore, PageHeader } from '../components/page.tsx';
import { LongValue, TableScroll } from '../components/table-scroll.tsx';

interface Page {
  items: AuditEntry[];
  next: string | null;
}

function actionColor(action: string): string {
  if (action.endsWith('delete') || action.endsWith('revoke') || action.endsWith('failed')) return 'red';
  if (action.startsWith('console.')) return 'orange';
  if (action.startsWith('session.')) return 'gray';
  return 'indigo';
}

export function AuditPage() {
  // What the list shows is kept in the address (#/audit?actor=ann@example.com&action=key.revoke):
  // a reload or a shared link shows the same list. An action the picker does not offer is Any.
  const address = useRouteQuery();
  const actor = address.get('actor')?.trim() ?? '';
  const action = AUDIT_ACTIONS.find((known) => known === address.get('action')) ?? null;
  const show = (next: { actor: string; action: string | null }) =>
    setRouteQuery({ actor: next.actor.trim() || undefined, action: next.action ?? undefined });
  // What is typed goes to the address a moment after the last keystroke, not per keystroke; an
  // address changed otherwise (a link, a typed one) is put back in the field.
  const [typed, setTyped] = useState(actor);
  const [typedFrom, setTypedFrom] = useState(actor);
  if (typedFrom !== actor) {
    setTypedFrom(actor);
    if (typed.trim() !== actor) setTyped(actor);
  }
  const showTyped = useDebouncedCallback((value: string) => show({ actor: value, action }), 300);
  const [extra, setExtra] = useState<Page | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const query = { actor: actor || undefined, action: action ?? undefined, limit: 50 };
  const listKey = stringifyJson(query);
  const first = useLoader(async () => {
    setExtra(null);
    const r = await api.page<AuditEntry[]>('/admin/v1/audit', query);
    return { items: r.data, next: (r.meta?.next_cursor as string | null | undefined) ?? null };
  }, listKey);
  const page = extra ?? first.data;
  /** The list on show: a next page asked for before the filters changed is not added to it. */
  const shownKey = useRef(listKey);
  shownKey.current = listKey;

  async function more() {
    if (!page?.next) return;
    const asked = listKey;
    setLoadingMore(true);
    try {
      const r = await api.page<AuditEntry[]>('/admin/v1/audit', { ...query, after: page.next });
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
      <PageHeader title="Audit log" description="Who did what, and when. Newest first." />
      <Group mb="md" align="flex-end" wrap="wrap">
        <TextInput
          label="Actor"
          {...MACHINE_TEXT}
          placeholder="email or user id"
          value={typed}
          onChange={(e) => {
            setTyped(e.currentTarget.value);
            showTyped(e.currentTarget.value);
          }}
          w={240}
        />
        <Select
          label="Action"
          placeholder="Any action"
          data={AUDIT_ACTIONS}
          value={action}
          onChange={(value) => {
            showTyped.cancel();
            show({ actor: typed, action: value });
          }}
          clearable
          searchable
          w={240}
        />
      </Group>
      <Card withBorder padding={0}>
        {first.error !== undefined ? (
          <ErrorState error={first.error} onRetry={first.reload} />
        ) : !page ? (
          <LoadingState />
        ) : page.items.length === 0 ? (
          // A filter that matches nothing is not an empty log.
          <EmptyState
            title={query.actor || query.action ? 'No entries match the filters' : 'Nothing recorded'}
          />
        ) : (
          <>
            <TableScroll minWidth={720}>
              <Table verticalSpacing="xs" aria-label="Audit log">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>When</Table.Th>
                    <Table.Th>Actor</Table.Th>
                    <Table.Th>Action</Table.Th>
                    <Table.Th>Target</Table.Th>
                    <Table.Th>Details</Table.Th>
                    <Table.Th>Address</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {page.items.map((entry) => (
                    <Table.Tr key={entry.id} data-testid="audit-row">
                      <Table.Td fz="sm">{formatDate(entry.at)}</Table.Td>
                      <Table.Td fz="sm">
                        <LongValue>{entry.actor?.email ?? entry.actor?.id ?? 'system'}</LongValue>
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={actionColor(entry.action)}>
                          {entry.action}
                        </Badge>
                      </Table.Td>
                      <Table.Td fz="xs" ff="monospace">
                        <LongValue>
                          {entry.target_type ? `${entry.target_type} ${entry.target_id ?? ''}` : '—'}
                        </LongValue>
                      </Table.Td>
                      <Table.Td>
                        {entry.details ? (
                          <Code fz="xs" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
                            {typeof entry.details === 'string' ? entry.details : stringifyJson(entry.details)}
                          </Code>
                        ) : (
                          '—'
                        )}
                      </Table.Td>
                      <Table.Td fz="xs" ff="monospace">
                        {entry.ip ?? '—'}
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
              end="No more entries"
            />
          </>
        )}
      </Card>
    </>
  );
}
