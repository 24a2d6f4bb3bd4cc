import {
  Button,
  Grid,
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  SegmentedControl,
  Stack,
  Text,
  TextInput,
} from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client.ts';
import type { CreatedKey, Endpoint, Environment } from '../api/types.ts';
import { notifyError } from '../components/feedback.tsx';

function scopeOptions(endpoints: Endpoint[]) {
  return [
    { group: 'Everything', items: [{ value: '*', label: '* (all endpoints, read and write)' }] },
    {
      group: 'All endpoints',
      items: [
        { value: 'records:read', label: 'records:read' },
        { value: 'records:write', label: 'records:write' },
      ],
    },
    ...endpoints.map((e) => ({
      group: e.name,
      items: [
        { value: `${e.slug}:read`, label: `${e.slug}:read` },
        { value: `${e.slug}:write`, label: `${e.slug}:write` },
      ],
    })),
  ];
}

function limit(value: number | string): number | null {
  return typeof value === 'number' ? value : null;
}

/** A limit's field error: empty is no limit; otherwise a whole number of at least 1. */
function limitError(value: number | string): string | undefined {
  if (value === '') return undefined;
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? undefined
    : 'A whole number of at least 1 (or empty: no limit)';
}

export function KeyCreateModal({
  opened,
  onClose,
  onCreated,
  endpoints,
  canCreateLive,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (key: CreatedKey) => void;
  endpoints: Endpoint[];
  canCreateLive: boolean;
}) {
  const [name, setName] = useState('');
  const [environment, setEnvironment] = useState<Environment>('test');
  const [scopes, setScopes] = useState<string[]>(['*']);
  const [perMinute, setPerMinute] = useState<number | string>('');
  const [perDay, setPerDay] = useState<number | string>('');
  const [perMonth, setPerMonth] = useState<number | string>('');
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);

  function reset() {
    setName('');
    setEnvironment('test');
    setScopes(['*']);
    setPerMinute('');
    setPerDay('');
    setPerMonth('');
    setExpires('');
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if ([perMinute, perDay, perMonth].some((v) => limitError(v) !== undefined)) return;
    setBusy(true);
    try {
      const limits = { per_minute: limit(perMinute), per_day: limit(perDay), per_month: limit(perMonth) };
      const created = await api.post<CreatedKey>('/admin/v1/keys', {
        name: name.trim(),
        environment,
        scopes,
        limits: Object.values(limits).some((v) => v !== null) ? limits : null,
        expires_at: expires === '' ? null : new Date(expires).toISOString(),
      });
      reset();
      onCreated(created);
    } catch (error) {
      notifyError(error, 'Could not create the key');
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal opened={opened} onClose={onClose} title="Create an API key" size="lg">
      <form onSubmit={submit} aria-label="Create an API key">
        <Stack>
          <TextInput
            label="Name"
            description="Who or what uses it, e.g. the partner's name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            data-autofocus
          />
          <Stack gap={4}>
            <Text size="sm" fw={500} id="key-env-label">
              Environment
            </Text>
            <SegmentedControl
              aria-labelledby="key-env-label"
              value={environment}
              onChange={(v) => setEnvironment(v as Environment)}
              data={[
                { value: 'test', label: 'Test (sandbox, draft schemas)' },
                { value: 'live', label: 'Live (production)', disabled: !canCreateLive },
              ]}
            />
          </Stack>
          <MultiSelect
            label="Scopes"
            description="What the key may read and write"
            data={scopeOptions(endpoints)}
            value={scopes}
            onChange={setScopes}
            searchable
            required
            error={scopes.length === 0 ? 'Pick at least one scope' : undefined}
          />
          <Grid>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <NumberInput
                label="Requests per minute"
                placeholder="no limit"
                min={1}
                clampBehavior="none"
                allowDecimal={false}
                value={perMinute}
                onChange={setPerMinute}
                error={limitError(perMinute)}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <NumberInput
                label="Requests per day"
                placeholder="no limit"
                min={1}
                clampBehavior="none"
                allowDecimal={false}
                value={perDay}
                onChange={setPerDay}
                error={limitError(perDay)}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <NumberInput
                label="Requests per month"
                placeholder="no limit"
                min={1}
                clampBehavior="none"
                allowDecimal={false}
                value={perMonth}
                onChange={setPerMonth}
                error={limitError(perMonth)}
              />
            </Grid.Col>
          </Grid>
          <TextInput
            label="Expires at"
            description="Empty: never expires"
            type="datetime-local"
            value={expires}
            onChange={(e) => setExpires(e.currentTarget.value)}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} disabled={name.trim() === '' || scopes.length === 0}>
              Create key
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
