import { Badge, Button, Card, Checkbox, Code, Group, Menu, Modal, Stack, Table, Text } from '@mantine/core';
import { useRef, useState } from 'react';
import { limitsText } from '../../../src/keys/limits-text.ts';
import { api } from '../api/client.ts';
import type {
  ApiKey,
  CallbackSigningSecret,
  CreatedKey,
  Endpoint,
  KeyLimits,
  KeyStatus,
} from '../api/types.ts';
import { useUser } from '../app/session.tsx';
import { useLoader } from '../app/use-loader.ts';
import {
  confirmAction,
  EmptyState,
  focusBack,
  Loaded,
  notifyError,
  notifySuccess,
  openConfirm,
} from '../components/feedback.tsx';
import { formatDate, PageHeader, timeAgo } from '../components/page.tsx';
import { SecretDialog, SecretReveal } from '../components/secret.tsx';
import { ActionsHeader, LongValue, TableScroll } from '../components/table-scroll.tsx';
import { KeyCreateModal, KeyEditModal } from './key-create.tsx';

export function EnvironmentBadge({ environment }: { environment: string }) {
  return (
    <Badge color={environment === 'live' ? 'red' : 'blue'} variant="light">
      {environment}
    </Badge>
  );
}

const STATUS_COLOR: Record<KeyStatus, string> = {
  active: 'teal',
  inactive: 'gray',
  revoked: 'red',
  expired: 'orange',
};

export function KeysPage() {
  const user = useUser();
  const keys = useLoader(async () => {
    const answer = await api.page<ApiKey[]>('/admin/v1/keys');
    const defaults = (answer.meta?.default_limits ?? {}) as KeyLimits;
    return { list: answer.data, defaults };
  }, 'keys');
  const endpoints = useLoader(() => api.get<Endpoint[]>('/admin/v1/endpoints'), 'endpoints');
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const [revealed, setRevealed] = useState<{
    title: string;
    key: CreatedKey;
    note?: string;
    fromCreate?: boolean;
  } | null>(null);
  /** A key's callback signing secret (owner only), read when asked for and dropped on close. */
  const [callbackSecret, setCallbackSecret] = useState<{
    key: ApiKey;
    secret: string;
    /** After a rotation, until when the secret before signs alongside; null: none does. */
    previousUntil: string | null;
  } | null>(null);
  /**
   * The "Rotate…?" question is open over the callback secret's dialog. Both listen for Escape on
   * the window, and both closed on it: the dialog leaves it to the question meanwhile, so Escape
   * cancels the rotation alone and the owner is back in the dialog, on Rotate….
   */
  const [askingRotation, setAskingRotation] = useState(false);
  const createButton = useRef<HTMLButtonElement>(null);
  /** Each row's Actions button, where focus returns when its edit dialog closes. */
  const actionButtons = useRef(new Map<string, HTMLButtonElement>());

  function closeEditing() {
    if (editing) focusBack(actionButtons.current.get(editing.id) ?? null);
    setEditing(null);
  }

  /** Closes the one view of a secret; a new key's flow gives focus back to "Create key". */
  function closeRevealed() {
    if (revealed?.fromCreate) focusBack(createButton.current);
    setRevealed(null);
  }

  async function act(key: ApiKey, action: 'deactivate' | 'activate' | 'revoke', message: string) {
    try {
      await api.post(`/admin/v1/keys/${key.id}/${action}`);
      notifySuccess(message);
      keys.reload();
    } catch (error) {
      notifyError(error);
    }
  }

  /**
   * A live key's partner is in production: a slip of the menu would cut it off, so it is asked
   * first (a sandbox key is deactivated at once; either comes back with Activate).
   */
  function deactivate(key: ApiKey) {
    const run = () => act(key, 'deactivate', `${key.name} deactivated`);
    if (key.environment !== 'live') {
      void run();
      return;
    }
    confirmAction({
      title: `Deactivate ${key.name}?`,
      message:
        "This is a live key: its partner's production requests are refused until you activate it again.",
      confirmLabel: 'Deactivate key',
      onConfirm: run,
    });
  }

  async function showCallbackSecret(key: ApiKey) {
    try {
      const shown = await api.get<CallbackSigningSecret>(`/admin/v1/keys/${key.id}/callback-signing-secret`);
      setCallbackSecret({ key, secret: shown.secret, previousUntil: shown.previous_secret_expires_at });
    } catch (error) {
      notifyError(error);
    }
  }

  /** A new callback signing secret for the key: the old one signs alongside for a day, or stops now. */
  function rotateCallbackSecret(key: ApiKey) {
    let stopNow = false;
    setAskingRotation(true);
    openConfirm({
      title: `Rotate the callback signing secret of ${key.name}?`,
      children: (
        <Stack gap="sm">
          <Text size="sm">
            A new secret signs this key's callbacks from now on. For 24 hours the current one signs alongside
            it, so the partner's receiver keeps accepting callbacks while they switch to the new secret.
          </Text>
          <Checkbox
            label="Stop the current secret at once (it leaked)"
            description="Callbacks are signed with the new secret alone: the partner's receiver refuses them until it has it."
            onChange={(event) => {
              stopNow = event.currentTarget.checked;
            }}
          />
        </Stack>
      ),
      labels: { confirm: 'Rotate secret', cancel: 'Cancel' },
      // Mantine's modals provider heard the Escape first and closes the question while that key
      // press is still on its way to the dialog's listener: the dialog takes Escape back after it.
      onClose: () => setTimeout(() => setAskingRotation(false), 0),
      onConfirm: async () => {
        try {
          const rotated = await api.post<CallbackSigningSecret>(
            `/admin/v1/keys/${key.id}/rotate-callback-secret`,
            stopNow ? { grace_seconds: 0 } : {},
          );
          setCallbackSecret({
            key,
            secret: rotated.secret,
            previousUntil: rotated.previous_secret_expires_at,
          });
          notifySuccess(`New callback signing secret for ${key.name}`);
        } catch (error) {
          notifyError(error, 'Could not rotate the callback signing secret');
        }
      },
    });
  }

  function closeCallbackSecret() {
    if (callbackSecret) focusBack(actionButtons.current.get(callbackSecret.key.id) ?? null);
    setCallbackSecret(null);
  }

  function roll(key: ApiKey) {
    openConfirm({
      title: `Roll ${key.name}?`,
      children: (
        <Text size="sm">
          A new secret is made and shown once. The current secret keeps working for a grace period so you can
          switch over without downtime.
        </Text>
      ),
      labels: { confirm: 'Roll key', cancel: 'Cancel' },
      onConfirm: async () => {
        try {
          const rolled = await api.post<CreatedKey>(`/admin/v1/keys/${key.id}/roll`);
          setRevealed({
            title: 'New secret',
            key: rolled,
            note: `The previous secret stops working ${formatDate(rolled.previous_secret_expires_at)} (${timeAgo(
              rolled.previous_secret_expires_at,
            )}).`,
          });
          keys.reload();
        } catch (error) {
          notifyError(error, 'Could not roll the key');
        }
      },
    });
  }

  return (
    <>
      <PageHeader
        title="API keys"
        description={
          user.role === 'owner'
            ? 'Keys for your partners. Test keys use the draft schemas; live keys the deployed ones.'
            : 'Your test keys. Other people’s keys are not shown.'
        }
        actions={
          <Button ref={createButton} onClick={() => setCreating(true)}>
            Create key
          </Button>
        }
      />
      <Card withBorder padding={0}>
        <Loaded
          loader={keys}
          isEmpty={({ list }) => list.length === 0}
          empty={<EmptyState title="No keys yet">Create a key to call the API.</EmptyState>}
        >
          {({ list, defaults }) => (
            <TableScroll minWidth={720}>
              <Table verticalSpacing="sm" aria-label="API keys">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Environment</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Scopes</Table.Th>
                    <Table.Th>Limits</Table.Th>
                    <Table.Th>Last used</Table.Th>
                    <Table.Th>Expires</Table.Th>
                    <ActionsHeader />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.map((key) => {
                    return (
                      <Table.Tr key={key.id} data-testid={`key-row-${key.name}`}>
                        <Table.Td>
                          <LongValue>
                            <Text fw={600} size="sm">
                              {key.name}
                            </Text>
                          </LongValue>
                          <Text size="xs" c="dimmed" ff="monospace">
                            {key.start}…
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <EnvironmentBadge environment={key.environment} />
                        </Table.Td>
                        <Table.Td>
                          <Badge color={STATUS_COLOR[key.status]} variant="dot">
                            {key.status}
                          </Badge>
                        </Table.Td>
                        <Table.Td>
                          <Text size="xs" ff="monospace" maw={220} lineClamp={2}>
                            {key.scopes.join(', ')}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <Text size="xs" data-testid="key-limits">
                            {limitsText(key.limits, defaults, 'dashboard')}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <Text size="sm" title={formatDate(key.last_used_at)}>
                            {timeAgo(key.last_used_at)}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <Text size="sm">{key.expires_at ? formatDate(key.expires_at) : 'never'}</Text>
                        </Table.Td>
                        <Table.Td>
                          {key.status !== 'revoked' && (
                            <Menu position="bottom-end" withinPortal>
                              <Menu.Target>
                                <Button
                                  ref={(element) => {
                                    if (element) actionButtons.current.set(key.id, element);
                                    else actionButtons.current.delete(key.id);
                                  }}
                                  size="xs"
                                  variant="default"
                                  aria-label={`Actions for ${key.name}`}
                                >
                                  Actions
                                </Button>
                              </Menu.Target>
                              <Menu.Dropdown>
                                {/* An expired key can be deactivated; activating it would be refused (409). */}
                                {key.status === 'active' || key.status === 'expired' ? (
                                  <Menu.Item onClick={() => deactivate(key)}>Deactivate</Menu.Item>
                                ) : (
                                  <Menu.Item
                                    onClick={() => void act(key, 'activate', `${key.name} activated`)}
                                  >
                                    Activate
                                  </Menu.Item>
                                )}
                                <Menu.Item onClick={() => setEditing(key)}>
                                  Edit name, scopes and limits
                                </Menu.Item>
                                <Menu.Item onClick={() => roll(key)}>Roll secret</Menu.Item>
                                {user.role === 'owner' && (
                                  <Menu.Item onClick={() => void showCallbackSecret(key)}>
                                    Callback signing secret
                                  </Menu.Item>
                                )}
                                <Menu.Divider />
                                <Menu.Item
                                  color="red"
                                  onClick={() =>
                                    confirmAction({
                                      title: `Revoke ${key.name}?`,
                                      message:
                                        'Requests with this key are refused at once, for good. A revoked key cannot be activated again.',
                                      confirmLabel: 'Revoke key',
                                      onConfirm: () => act(key, 'revoke', `${key.name} revoked`),
                                    })
                                  }
                                >
                                  Revoke
                                </Menu.Item>
                              </Menu.Dropdown>
                            </Menu>
                          )}
                        </Table.Td>
                      </Table.Tr>
                    );
                  })}
                </Table.Tbody>
              </Table>
            </TableScroll>
          )}
        </Loaded>
      </Card>
      <KeyCreateModal
        opened={creating}
        onClose={() => setCreating(false)}
        endpoints={endpoints.data ?? []}
        canCreateLive={user.role === 'owner'}
        onCreated={(key) => {
          setCreating(false);
          setRevealed({ title: 'Your new API key', key, fromCreate: true });
          keys.reload();
        }}
      />
      <KeyEditModal
        apiKey={editing}
        onClose={closeEditing}
        endpoints={endpoints.data ?? []}
        onSaved={(key) => {
          closeEditing();
          notifySuccess(`${key.name} saved`);
          keys.reload();
        }}
      />
      <SecretDialog
        title="Callback signing secret"
        secret={callbackSecret?.secret ?? null}
        onClose={closeCallbackSecret}
        testId="key-callback-secret"
        closeOnEscape={!askingRotation}
        actions={
          callbackSecret && (
            <Button size="xs" variant="default" onClick={() => rotateCallbackSecret(callbackSecret.key)}>
              Rotate…
            </Button>
          )
        }
      >
        Signs the callbacks that requests made with <strong>{callbackSecret?.key.name}</strong> ask for with{' '}
        <Code>X-Webhook-Callback</Code>. Give it to this key's partner: they verify its callbacks with it as
        with any Standard Webhooks secret. It stays the same until you rotate it, and the key itself reads it
        from <Code>GET /api/v1/account</Code>.
        {callbackSecret?.previousUntil && (
          <span data-testid="callback-secret-overlap">
            {' '}
            The previous secret signs alongside it until {formatDate(callbackSecret.previousUntil)} (
            {timeAgo(callbackSecret.previousUntil)}).
          </span>
        )}
      </SecretDialog>
      <Modal
        opened={revealed !== null}
        onClose={closeRevealed}
        title={revealed?.title}
        size="lg"
        closeOnClickOutside={false}
        closeOnEscape={false}
      >
        {revealed && (
          <Stack>
            <Group gap="xs">
              <Text fw={600}>{revealed.key.name}</Text>
              <EnvironmentBadge environment={revealed.key.environment} />
            </Group>
            <SecretReveal label="API key" secret={revealed.key.key} note={revealed.note} />
            <Group justify="flex-end">
              <Button variant="default" onClick={closeRevealed}>
                I have saved it
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
