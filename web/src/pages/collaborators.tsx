import { Alert, Badge, Button, Card, Code, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { api } from '../api/client.ts';
import type { Collaborator, Invite } from '../api/types.ts';
import { useLoader } from '../app/use-loader.ts';
import {
  confirmAction,
  EmptyState,
  Loaded,
  notifyError,
  notifySuccess,
  useSubmit,
} from '../components/feedback.tsx';
import { formatDate, PageHeader, timeAgo } from '../components/page.tsx';
import { CopyText } from '../components/secret.tsx';
import { ActionsHeader, LongValue, TableScroll } from '../components/table-scroll.tsx';

export function CollaboratorsPage() {
  const users = useLoader(() => api.get<Collaborator[]>('/admin/v1/collaborators'), 'users');
  const invites = useLoader(() => api.get<Invite[]>('/admin/v1/invites'), 'invites');
  const [email, setEmail] = useState('');
  const [created, setCreated] = useState<Invite | null>(null);
  const { busy, submit: invite } = useSubmit(async () => {
    const made = await api.post<Invite>('/admin/v1/invites', { email: email.trim() });
    setCreated(made);
    setEmail('');
    notifySuccess(`Invite for ${made.email} created`);
    invites.reload();
  }, 'Could not create the invite');

  return (
    <>
      <PageHeader
        title="Collaborators"
        description="Collaborators see the endpoints and docs, use the test page with their own test keys and see their deliveries. They cannot use the production console, other people's keys or settings."
      />
      <Stack gap="md">
        <Card withBorder>
          <Title order={4} mb="sm">
            Invite a collaborator
          </Title>
          <form onSubmit={invite} aria-label="Invite a collaborator">
            <Group align="flex-end" wrap="wrap">
              <TextInput
                label="Email"
                type="email"
                required
                value={email}
                onChange={(e) => setEmail(e.currentTarget.value)}
                style={{ flex: '1 1 240px' }}
              />
              <Button type="submit" loading={busy}>
                Create invite link
              </Button>
            </Group>
          </form>
          {created?.url && (
            <Alert color="indigo" mt="md" title={`Invite link for ${created.email}`}>
              <Stack gap="xs">
                <Text size="sm">
                  Send this link to them; it works once and expires {formatDate(created.expires_at)}. It is
                  not shown again.
                </Text>
                <Code
                  block
                  data-testid="invite-url"
                  style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
                >
                  {created.url}
                </Code>
                <Group>
                  <CopyText value={created.url} label="Copy invite link" />
                </Group>
              </Stack>
            </Alert>
          )}
        </Card>

        <Card withBorder padding={0}>
          <Title order={4} p="md" pb={0}>
            Pending invites
          </Title>
          <Loaded
            loader={invites}
            isEmpty={(list) => list.length === 0}
            empty={<EmptyState title="No pending invites" />}
          >
            {(list) => (
              <TableScroll minWidth={480}>
                <Table verticalSpacing="xs" aria-label="Pending invites">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Email</Table.Th>
                      <Table.Th>Expires</Table.Th>
                      <ActionsHeader />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {list.map((inv) => (
                      <Table.Tr key={inv.id}>
                        <Table.Td>
                          <LongValue>{inv.email}</LongValue>
                        </Table.Td>
                        <Table.Td>{formatDate(inv.expires_at)}</Table.Td>
                        <Table.Td ta="right">
                          <Button
                            size="xs"
                            variant="subtle"
                            color="red"
                            aria-label={`Withdraw the invite for ${inv.email}`}
                            onClick={() =>
                              confirmAction({
                                title: `Withdraw the invite for ${inv.email}?`,
                                message: 'The link stops working at once.',
                                confirmLabel: 'Withdraw invite',
                                onConfirm: async () => {
                                  try {
                                    await api.del(`/admin/v1/invites/${inv.id}`);
                                    notifySuccess('Invite withdrawn');
                                    // Its link, if it is the one on show, no longer works.
                                    if (created?.id === inv.id) setCreated(null);
                                    invites.reload();
                                  } catch (error) {
                                    notifyError(error);
                                  }
                                },
                              })
                            }
                          >
                            Withdraw
                          </Button>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </TableScroll>
            )}
          </Loaded>
        </Card>

        <Card withBorder padding={0}>
          <Title order={4} p="md" pb={0}>
            People
          </Title>
          <Loaded
            loader={users}
            isEmpty={(list) => list.length === 0}
            empty={<EmptyState title="Nobody yet" />}
          >
            {(list) => (
              <TableScroll minWidth={560}>
                <Table verticalSpacing="xs" aria-label="Collaborators">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Email</Table.Th>
                      <Table.Th>Role</Table.Th>
                      <Table.Th>Last sign-in</Table.Th>
                      <ActionsHeader />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {list.map((u) => (
                      <Table.Tr key={u.id} data-testid="collaborator-row">
                        <Table.Td>
                          <LongValue>{u.email}</LongValue>
                        </Table.Td>
                        <Table.Td>
                          <Badge variant="light" color={u.role === 'owner' ? 'indigo' : 'gray'}>
                            {u.role}
                          </Badge>
                        </Table.Td>
                        <Table.Td>{timeAgo(u.last_sign_in_at)}</Table.Td>
                        <Table.Td ta="right">
                          {u.role !== 'owner' && (
                            <Button
                              size="xs"
                              variant="subtle"
                              color="red"
                              aria-label={`Remove ${u.email}`}
                              onClick={() =>
                                confirmAction({
                                  title: `Remove ${u.email}?`,
                                  message: 'They are signed out everywhere and their keys are revoked.',
                                  confirmLabel: 'Remove collaborator',
                                  onConfirm: async () => {
                                    try {
                                      await api.del(`/admin/v1/collaborators/${u.id}`);
                                      notifySuccess(`${u.email} removed`);
                                      users.reload();
                                    } catch (error) {
                                      notifyError(error);
                                    }
                                  },
                                })
                              }
                            >
                              Remove
                            </Button>
                          )}
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </TableScroll>
            )}
          </Loaded>
        </Card>
      </Stack>
    </>
  );
}
