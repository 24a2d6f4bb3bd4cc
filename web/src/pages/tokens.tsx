import { Button, Card, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useRef, useState } from 'react';
import { BLANK_MESSAGE, isBlank } from '../../../src/endpoints/not-blank.ts';
import { api } from '../api/client.ts';
import type { ManagementToken } from '../api/types.ts';
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
import { SecretReveal } from '../components/secret.tsx';
import { ActionsHeader, LongValue, TableScroll } from '../components/table-scroll.tsx';

/** Your management tokens: what the CLI and scripts sign in with (`GATEHOUSE_TOKEN`). */
export function TokensPage() {
  const tokens = useLoader(() => api.get<ManagementToken[]>('/admin/v1/tokens'), 'tokens');
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  /** Said at the field: a name of spaces alone passed `required` and came back as a toast. */
  const [nameError, setNameError] = useState<string | null>(null);
  const nameInput = useRef<HTMLInputElement>(null);
  const { busy, submit: create } = useSubmit(async () => {
    // The server's own rule and words: whitespace alone (no-break, ideographic spaces too) is blank.
    if (isBlank(name)) {
      setNameError(BLANK_MESSAGE);
      nameInput.current?.focus();
      return;
    }
    const made = await api.post<ManagementToken & { token: string }>('/admin/v1/tokens', {
      name: name.trim(),
    });
    setCreated({ name: made.name, token: made.token });
    setName('');
    notifySuccess(`Token ${made.name} created`);
    tokens.reload();
  }, 'Could not create the token');

  return (
    <>
      <PageHeader
        title="CLI tokens"
        description="Management tokens let the gatehouse CLI and your scripts act as you, with your role. Revoke one you lost or no longer use; the command gatehouse login makes a new one from your password."
      />
      <Stack gap="md">
        <Card withBorder>
          <Title order={4} mb="sm">
            Create a token
          </Title>
          <form onSubmit={create} aria-label="Create a token">
            <Group align="flex-end" wrap="wrap">
              <TextInput
                label="Name"
                description="What it is for: a machine, a script, CI"
                required
                maxLength={200}
                value={name}
                ref={nameInput}
                error={nameError}
                onChange={(e) => {
                  setName(e.currentTarget.value);
                  setNameError(null);
                }}
                style={{ flex: '1 1 240px' }}
              />
              <Button type="submit" loading={busy}>
                Create token
              </Button>
            </Group>
          </form>
          {created && (
            <Stack mt="md">
              <SecretReveal
                label="Management token"
                secret={created.token}
                note={`For ${created.name}: give it to the CLI as GATEHOUSE_TOKEN (or --token).`}
              />
            </Stack>
          )}
        </Card>

        <Card withBorder padding={0}>
          <Title order={4} p="md" pb={0}>
            Your tokens
          </Title>
          <Loaded
            loader={tokens}
            isEmpty={(list) => list.length === 0}
            empty={<EmptyState title="No tokens">Create one above, or run gatehouse login.</EmptyState>}
          >
            {(list) => (
              <TableScroll minWidth={480}>
                <Table verticalSpacing="xs" aria-label="Your tokens">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th>
                      <Table.Th>Created</Table.Th>
                      <Table.Th>Last used</Table.Th>
                      <ActionsHeader />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {list.map((token) => (
                      <Table.Tr key={token.id} data-testid="token-row">
                        <Table.Td>
                          <LongValue>
                            <Text size="sm">{token.name}</Text>
                          </LongValue>
                          <Text size="xs" c="dimmed">
                            {token.id}
                          </Text>
                        </Table.Td>
                        <Table.Td>{formatDate(token.created_at)}</Table.Td>
                        <Table.Td>
                          <Text size="sm" title={formatDate(token.last_used_at)}>
                            {timeAgo(token.last_used_at)}
                          </Text>
                        </Table.Td>
                        <Table.Td ta="right">
                          <Button
                            size="xs"
                            variant="subtle"
                            color="red"
                            aria-label={`Revoke ${token.name}`}
                            onClick={() =>
                              confirmAction({
                                title: `Revoke ${token.name}?`,
                                message:
                                  'Whatever uses it (the CLI, a script) is refused from now on. This cannot be undone.',
                                confirmLabel: 'Revoke token',
                                onConfirm: async () => {
                                  try {
                                    await api.del(`/admin/v1/tokens/${token.id}`);
                                    notifySuccess(`Token ${token.name} revoked`);
                                    tokens.reload();
                                  } catch (error) {
                                    notifyError(error);
                                  }
                                },
                              })
                            }
                          >
                            Revoke
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
      </Stack>
    </>
  );
}
