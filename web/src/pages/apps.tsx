import { Anchor, Badge, Button, Card, Group, Stack, Table, Text } from '@mantine/core';
import { api } from '../api/client.ts';
import type { App } from '../api/types.ts';
import { href, NEW, navigate } from '../app/router.ts';
import { useLoader } from '../app/use-loader.ts';
import { Loaded } from '../components/feedback.tsx';
import { PageHeader, timeAgo } from '../components/page.tsx';
import { NamedLink, TableScroll } from '../components/table-scroll.tsx';

export function AppDeployBadges({ app }: { app: Pick<App, 'draft_revision' | 'live_version'> }) {
  return (
    <Group gap={4} component="span">
      <Badge variant="light" color="gray">
        draft r{app.draft_revision}
      </Badge>
      {app.live_version === null ? (
        <Badge variant="outline" color="gray">
          not deployed
        </Badge>
      ) : (
        <Badge variant="light" color="indigo">
          live v{app.live_version}
        </Badge>
      )}
    </Group>
  );
}

function NoApps() {
  return (
    <Stack align="center" gap={6} py="xl" px="md" data-testid="empty-state">
      <Text fw={600}>No App APIs yet</Text>
      <Text c="dimmed" size="sm" ta="center" maw={560}>
        An app is a set of your own routes under <code>/api/v1/apps/{'{app}'}/…</code>: each route is a
        pipeline of steps that find, read and write records of your endpoints and shape the answer — an
        order's status by its <code>order_id</code>, a public checkout that creates an order and redirects.
        Test keys run the draft; deploy it for live keys.
      </Text>
      <Group gap="sm">
        <Button component="a" href={href(`/apps/${NEW}`)} size="xs">
          Create an app
        </Button>
        <Anchor href="/docs/" target="_blank" size="sm">
          Read the API reference (/docs)
        </Anchor>
      </Group>
    </Stack>
  );
}

export function AppsPage() {
  const apps = useLoader(() => api.get<App[]>('/admin/v1/apps'), 'apps');
  return (
    <>
      <PageHeader
        title="App APIs"
        description="Your own routes over your endpoints' records, with a draft for test keys and deployed versions for live keys."
        actions={
          <Button component="a" href={href(`/apps/${NEW}`)}>
            New app
          </Button>
        }
      />
      <Card withBorder padding={0}>
        <Loaded loader={apps} isEmpty={(list) => list.length === 0} empty={<NoApps />}>
          {(list) => (
            <TableScroll minWidth={640}>
              <Table highlightOnHover verticalSpacing="sm" aria-label="Apps">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>App</Table.Th>
                    <Table.Th>Draft / deployed</Table.Th>
                    <Table.Th ta="right">Routes</Table.Th>
                    <Table.Th>Updated</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.map((app) => (
                    <Table.Tr
                      key={app.slug}
                      data-testid={`app-row-${app.slug}`}
                      style={{ cursor: 'pointer' }}
                      onClick={() => navigate(`/apps/${encodeURIComponent(app.slug)}`)}
                    >
                      <Table.Td>
                        <NamedLink
                          to={`/apps/${encodeURIComponent(app.slug)}`}
                          name={app.name}
                          path={`/api/v1/apps/${app.slug}`}
                        />
                      </Table.Td>
                      <Table.Td>
                        <AppDeployBadges app={app} />
                      </Table.Td>
                      <Table.Td ta="right" ff="monospace">
                        {app.routes.length}
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">{timeAgo(app.updated_at)}</Text>
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
