import { Badge, Button, Card, Group, Table, Text } from '@mantine/core';
import { api } from '../api/client.ts';
import type { Endpoint, Usage } from '../api/types.ts';
import { href, NEW, navigate } from '../app/router.ts';
import { useUser } from '../app/session.tsx';
import { useLoader } from '../app/use-loader.ts';
import { EmptyState, Loaded } from '../components/feedback.tsx';
import { PageHeader, timeAgo } from '../components/page.tsx';
import { NamedLink, TableScroll } from '../components/table-scroll.tsx';

export function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

export function isExpired(endpoint: Endpoint): boolean {
  return endpoint.expires_at !== null && Date.parse(endpoint.expires_at) <= Date.now();
}

export function EndpointStatus({ endpoint }: { endpoint: Endpoint }) {
  if (isExpired(endpoint)) return <Badge color="orange">expired</Badge>;
  return endpoint.active ? <Badge color="teal">active</Badge> : <Badge color="gray">inactive</Badge>;
}

export function EndpointsPage() {
  const user = useUser();
  const endpoints = useLoader(() => api.get<Endpoint[]>('/admin/v1/endpoints'), 'endpoints');
  // Usage is owner only; a collaborator's list simply has no traffic column. Production only, as
  // the Usage page shows by default: sandbox requests are tries, not partners' traffic.
  const traffic = useLoader(
    () =>
      user.role === 'owner'
        ? api
            .get<Usage>('/admin/v1/usage', { group_by: 'endpoint', environment: 'live', from: daysAgo(6) })
            .then((u) => new Map(u.rows.map((r) => [r.endpoint ?? '', r.count])))
        : Promise.resolve(null),
    `traffic-${user.role}`,
  );
  const isOwner = user.role === 'owner';

  return (
    <>
      <PageHeader
        title="Endpoints"
        description="Each endpoint is a slug and a JSON Schema. Test keys use the draft; live keys the deployed version."
        actions={
          isOwner && (
            <Button component="a" href={href(`/endpoints/${NEW}`)}>
              New endpoint
            </Button>
          )
        }
      />
      <Card withBorder padding={0}>
        <Loaded
          loader={endpoints}
          isEmpty={(list) => list.length === 0}
          empty={
            <EmptyState title="No endpoints yet">
              {isOwner
                ? 'Create one to give your partners an API.'
                : 'The owner has not created any endpoints.'}
            </EmptyState>
          }
        >
          {(list) => (
            <TableScroll minWidth={640}>
              <Table highlightOnHover verticalSpacing="sm" aria-label="Endpoints">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Endpoint</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Draft / deployed</Table.Th>
                    {traffic.data !== null && <Table.Th ta="right">Production requests (7 days)</Table.Th>}
                    <Table.Th>Updated</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.map((e) => (
                    <Table.Tr
                      key={e.slug}
                      style={{ cursor: 'pointer' }}
                      onClick={() => navigate(`/endpoints/${encodeURIComponent(e.slug)}`)}
                    >
                      <Table.Td>
                        <NamedLink
                          to={`/endpoints/${encodeURIComponent(e.slug)}`}
                          name={e.name}
                          path={`/api/v1/data/${e.slug}`}
                        />
                      </Table.Td>
                      <Table.Td>
                        <EndpointStatus endpoint={e} />
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          <Badge variant="light" color="gray">
                            draft r{e.draft_revision}
                          </Badge>
                          {e.live_version === null ? (
                            <Badge variant="outline" color="gray">
                              not deployed
                            </Badge>
                          ) : (
                            <Badge variant="light" color="indigo">
                              live v{e.live_version}
                            </Badge>
                          )}
                        </Group>
                      </Table.Td>
                      {traffic.data !== null && (
                        <Table.Td ta="right" ff="monospace">
                          {traffic.data === undefined
                            ? '…'
                            : (traffic.data.get(e.slug) ?? 0).toLocaleString()}
                        </Table.Td>
                      )}
                      <Table.Td>
                        <Text size="sm">{timeAgo(e.updated_at)}</Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </TableScroll>
          )}
        </Loaded>
      </Card>
    </>
  );
}
