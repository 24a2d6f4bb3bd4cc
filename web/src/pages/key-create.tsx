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
import { type FormEvent, useRef, useState } from 'react';
import { api } from '../api/client.ts';
import type { ApiKey, CreatedKey, Endpoint, Environment, KeyLimits } from '../api/types.ts';
import { firstInvalid, RefusedAlert, refusedFields, useFocusNext } from '../components/feedback.tsx';

/** The server's limit on a key's name (src/keys/key-input.ts). */
const NAME_MAX = 200;

function scopeOptions(endpoints: Endpoint[], current: string[]) {
  const groups = [
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
  // A key's scope for an endpoint since deleted stays visible (and removable) when editing.
  const known = new Set(groups.flatMap((g) => g.items.map((i) => i.value)));
  const other = current.filter((scope) => !known.has(scope));
  return other.length > 0
    ? [...groups, { group: 'Other', items: other.map((value) => ({ value, label: value })) }]
    : groups;
}

type LimitValue = number | string;
const WINDOWS = [
  ['per_minute', 'Requests per minute'],
  ['per_day', 'Requests per day'],
  ['per_month', 'Requests per month'],
] as const;
type Window = (typeof WINDOWS)[number][0];

function limit(value: LimitValue): number | null {
  return typeof value === 'number' ? value : null;
}

/** A limit's field error: empty is no limit; otherwise a whole number of at least 1. */
function limitError(value: LimitValue): string | undefined {
  if (value === '') return undefined;
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? undefined
    : 'A whole number of at least 1 (or empty: no limit)';
}

/** An instant as a `datetime-local` input shows it, in the browser's time zone, to the minute. */
function localInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

interface KeyForm {
  name: string;
  environment: Environment;
  scopes: string[];
  limits: Record<Window, LimitValue>;
  expires: string;
}

function emptyForm(): KeyForm {
  return {
    name: '',
    environment: 'test',
    scopes: ['*'],
    limits: { per_minute: '', per_day: '', per_month: '' },
    expires: '',
  };
}

function formOf(key: ApiKey): KeyForm {
  const value = (n: number | null | undefined): LimitValue => (typeof n === 'number' ? n : '');
  return {
    name: key.name,
    environment: key.environment,
    scopes: [...key.scopes],
    limits: {
      per_minute: value(key.limits.per_minute),
      per_day: value(key.limits.per_day),
      per_month: value(key.limits.per_month),
    },
    expires: localInput(key.expires_at),
  };
}

function limitsOf(form: KeyForm): Record<Window, number | null> {
  return {
    per_minute: limit(form.limits.per_minute),
    per_day: limit(form.limits.per_day),
    per_month: limit(form.limits.per_month),
  };
}

const expiresAt = (input: string): string | null => (input === '' ? null : new Date(input).toISOString());

/** The fields a change made, as PATCH /admin/v1/keys/:id takes them; empty when nothing changed. */
function keyPatch(before: KeyForm, after: KeyForm): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  if (after.name.trim() !== before.name) patch.name = after.name.trim();
  if (after.scopes.join('\n') !== before.scopes.join('\n')) patch.scopes = after.scopes;
  const was = limitsOf(before);
  const now = limitsOf(after);
  const limits: KeyLimits = {};
  for (const [window] of WINDOWS) if (now[window] !== was[window]) limits[window] = now[window];
  if (Object.keys(limits).length > 0) patch.limits = limits;
  // Untouched, an expiry keeps its seconds (the field shows minutes).
  if (after.expires !== before.expires) patch.expires_at = expiresAt(after.expires);
  return patch;
}

/** The form's label of each field the API names in a refusal's details. */
const FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  environment: 'Environment',
  scopes: 'Scopes',
  limits: 'Limits',
  'limits.per_minute': 'Requests per minute',
  'limits.per_day': 'Requests per day',
  'limits.per_month': 'Requests per month',
  expires_at: 'Expires at',
};

/** The API fields the form shows on an input of their own (`limits` as a whole has none). */
const ON_FIELD = new Set([
  'name',
  'environment',
  'scopes',
  'limits.per_minute',
  'limits.per_day',
  'limits.per_month',
  'expires_at',
]);

/** The form's field of an API field name (`scopes.2` is the Scopes field), null for none. */
function keyField(name: string): string | null {
  const field = name.startsWith('scopes.') ? 'scopes' : name;
  return ON_FIELD.has(field) ? field : null;
}

/** A field's label in the dialog's alert. */
function keyLabel(name: string): string {
  return FIELD_LABELS[keyField(name) ?? name] ?? name;
}

/** The API fields a change to the form touches: their refusals no longer apply. */
function touched(next: Partial<KeyForm>): string[] {
  const fields: string[] = [];
  if ('name' in next) fields.push('name');
  if ('environment' in next) fields.push('environment');
  if ('scopes' in next) fields.push('scopes');
  if ('limits' in next) fields.push('limits', ...WINDOWS.map(([window]) => `limits.${window}`));
  if ('expires' in next) fields.push('expires_at');
  return fields;
}

/**
 * The state both dialogs share: the form, the server's refusal (said once, inline: each field's
 * error on its input, the rest in the dialog's alert) and where focus goes after one.
 */
function useKeyForm(initial: KeyForm | (() => KeyForm)) {
  const [form, setForm] = useState<KeyForm>(initial);
  const [refusal, setRefusal] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const formRef = useRef<HTMLFormElement>(null);
  const alertRef = useRef<HTMLDivElement>(null);
  const focusNext = useFocusNext();
  return {
    form,
    setForm,
    refusal,
    errors,
    formRef,
    alertRef,
    change(next: Partial<KeyForm>) {
      setForm((f) => ({ ...f, ...next }));
      const gone = touched(next);
      setErrors((current) =>
        Object.fromEntries(Object.entries(current).filter(([field]) => !gone.includes(field))),
      );
    },
    clearRefusal() {
      setRefusal(null);
      setErrors({});
    },
    /** Shows a refusal; focus goes to the first field it names, else to the alert. */
    refused(error: unknown) {
      setRefusal(error);
      setErrors(refusedFields(error, keyField));
      focusNext(
        () => firstInvalid(formRef.current),
        () => alertRef.current,
      );
    },
  };
}

/** The form both dialogs show: name, environment, scopes, limits and expiry. */
function KeyFields({
  form,
  change,
  errors,
  endpoints,
  canCreateLive,
  environmentFixed,
}: {
  form: KeyForm;
  change: (next: Partial<KeyForm>) => void;
  /** The server's errors by field (`name`, `scopes`, `limits.per_day`, `expires_at`…). */
  errors: Record<string, string>;
  endpoints: Endpoint[];
  canCreateLive: boolean;
  environmentFixed: boolean;
}) {
  return (
    <>
      <TextInput
        label="Name"
        description={`Who or what uses it, e.g. the partner's name (up to ${NAME_MAX} characters)`}
        required
        maxLength={NAME_MAX}
        value={form.name}
        onChange={(e) => change({ name: e.currentTarget.value })}
        error={errors.name}
        data-autofocus
      />
      <Stack gap={4}>
        <Text size="sm" fw={500} id="key-env-label">
          Environment
        </Text>
        <SegmentedControl
          aria-labelledby="key-env-label"
          // Two halves whose words wrap: at 390 px the labels did not fit and were cut at both ends.
          fullWidth
          styles={{ label: { whiteSpace: 'normal' } }}
          value={form.environment}
          disabled={environmentFixed}
          onChange={(v) => change({ environment: v as Environment })}
          data={[
            { value: 'test', label: 'Test (sandbox, draft schemas)' },
            { value: 'live', label: 'Live (production)', disabled: !canCreateLive },
          ]}
        />
        {environmentFixed && (
          <Text size="xs" c="dimmed">
            A key's environment cannot change: create a new key for the other one.
          </Text>
        )}
        {errors.environment && (
          <Text size="xs" c="red.8">
            {errors.environment}
          </Text>
        )}
      </Stack>
      <MultiSelect
        label="Scopes"
        description="What the key may read and write"
        data={scopeOptions(endpoints, form.scopes)}
        value={form.scopes}
        onChange={(scopes) => change({ scopes })}
        searchable
        required
        error={form.scopes.length === 0 ? 'Pick at least one scope' : errors.scopes}
      />
      <Grid>
        {WINDOWS.map(([window, label]) => (
          <Grid.Col key={window} span={{ base: 12, sm: 4 }}>
            <NumberInput
              label={label}
              placeholder="no limit"
              min={1}
              clampBehavior="none"
              allowDecimal={false}
              value={form.limits[window]}
              onChange={(value) => change({ limits: { ...form.limits, [window]: value } })}
              error={limitError(form.limits[window]) ?? errors[`limits.${window}`]}
            />
          </Grid.Col>
        ))}
      </Grid>
      <TextInput
        label="Expires at"
        description="Empty: never expires"
        type="datetime-local"
        value={form.expires}
        onChange={(e) => change({ expires: e.currentTarget.value })}
        error={errors.expires_at}
      />
    </>
  );
}

function formInvalid(form: KeyForm): boolean {
  return (
    form.name.trim() === '' ||
    form.scopes.length === 0 ||
    Object.values(form.limits).some((v) => limitError(v) !== undefined)
  );
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
  const state = useKeyForm(emptyForm);
  const { form } = state;
  const [busy, setBusy] = useState(false);

  function close() {
    state.clearRefusal();
    onClose();
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (formInvalid(form)) return;
    setBusy(true);
    state.clearRefusal();
    try {
      const limits = limitsOf(form);
      const created = await api.post<CreatedKey>('/admin/v1/keys', {
        name: form.name.trim(),
        environment: form.environment,
        scopes: form.scopes,
        limits: Object.values(limits).some((v) => v !== null) ? limits : null,
        expires_at: expiresAt(form.expires),
      });
      state.setForm(emptyForm());
      onCreated(created);
    } catch (error) {
      state.refused(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal opened={opened} onClose={close} title="Create an API key" size="lg">
      <form ref={state.formRef} onSubmit={submit} aria-label="Create an API key">
        <Stack>
          {state.refusal !== null && (
            <RefusedAlert
              ref={state.alertRef}
              title="Could not create the key"
              error={state.refusal}
              field={keyField}
              label={keyLabel}
            />
          )}
          <KeyFields
            form={form}
            change={state.change}
            errors={state.errors}
            endpoints={endpoints}
            canCreateLive={canCreateLive}
            environmentFixed={false}
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button
              type="submit"
              loading={busy}
              disabled={form.name.trim() === '' || form.scopes.length === 0}
            >
              Create key
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Changes a key's name, scopes, limits or expiry; its secret and environment stay. */
export function KeyEditModal({
  apiKey,
  onClose,
  onSaved,
  endpoints,
}: {
  apiKey: ApiKey | null;
  onClose: () => void;
  onSaved: (key: ApiKey) => void;
  endpoints: Endpoint[];
}) {
  return (
    <Modal opened={apiKey !== null} onClose={onClose} title={`Edit ${apiKey?.name ?? 'key'}`} size="lg">
      {apiKey && (
        <KeyEditForm
          key={apiKey.id}
          apiKey={apiKey}
          onClose={onClose}
          onSaved={onSaved}
          endpoints={endpoints}
        />
      )}
    </Modal>
  );
}

function KeyEditForm({
  apiKey,
  onClose,
  onSaved,
  endpoints,
}: {
  apiKey: ApiKey;
  onClose: () => void;
  onSaved: (key: ApiKey) => void;
  endpoints: Endpoint[];
}) {
  const [initial] = useState(() => formOf(apiKey));
  const state = useKeyForm(initial);
  const { form } = state;
  const [busy, setBusy] = useState(false);
  const patch = keyPatch(initial, form);
  const unchanged = Object.keys(patch).length === 0;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (formInvalid(form) || unchanged) return;
    setBusy(true);
    state.clearRefusal();
    try {
      onSaved(await api.patch<ApiKey>(`/admin/v1/keys/${apiKey.id}`, patch));
    } catch (error) {
      state.refused(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form ref={state.formRef} onSubmit={submit} aria-label={`Edit ${apiKey.name}`}>
      <Stack>
        {state.refusal !== null && (
          <RefusedAlert
            ref={state.alertRef}
            title="Could not save the key"
            error={state.refusal}
            field={keyField}
            label={keyLabel}
          />
        )}
        <KeyFields
          form={form}
          change={state.change}
          errors={state.errors}
          endpoints={endpoints}
          canCreateLive
          environmentFixed
        />
        <Text size="xs" c="dimmed">
          Changes apply to the next request made with the key, on every server.
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={busy} disabled={unchanged || formInvalid(form)}>
            Save changes
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
