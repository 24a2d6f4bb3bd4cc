import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Grid,
  Group,
  List,
  NumberInput,
  Stack,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { sampleFor } from '../../../src/endpoints/sample.ts';
import { api } from '../api/client.ts';
import { stringifyJson } from '../api/exact-json.ts';
import type { Endpoint, EndpointVersion } from '../api/types.ts';
import { href, navigate, useLeaveGuard } from '../app/router.ts';
import { useUser } from '../app/session.tsx';
import { useLoader } from '../app/use-loader.ts';
import {
  confirmAction,
  ErrorState,
  firstInvalid,
  focusLost,
  LoadingState,
  notifyError,
  notifySuccess,
  openConfirm,
  SampleUnmet,
  useFocusNext,
} from '../components/feedback.tsx';
import { MACHINE_TEXT } from '../components/machine-text.ts';
import { formatDate, PageHeader } from '../components/page.tsx';
import { JsonDiff } from '../components/schema-diff.tsx';
import { CopyText } from '../components/secret.tsx';
import { SlugNameFields } from '../components/slug-name-fields.tsx';
import {
  type Field,
  fieldInputProblem,
  fieldsFromSchema,
  hasDuplicateNames,
  newField,
  schemaFromFields,
} from '../schema/fields.ts';
import { checkSchemaText } from '../schema/validate.ts';
import { EndpointStatus } from './endpoints.tsx';
import { FieldList } from './field-builder.tsx';

interface Loaded {
  endpoint: Endpoint;
  versions: EndpointVersion[];
}

const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;

export function EndpointEditorPage({ slug }: { slug: string | null }) {
  const loader = useLoader<Loaded | null>(
    async () =>
      slug === null
        ? null
        : Promise.all([
            api.get<Endpoint>(`/admin/v1/endpoints/${encodeURIComponent(slug)}`),
            api.get<EndpointVersion[]>(`/admin/v1/endpoints/${encodeURIComponent(slug)}/versions`),
          ]).then(([endpoint, versions]) => ({ endpoint, versions })),
    slug ?? '(new)',
  );
  if (loader.error !== undefined) {
    return (
      <>
        <PageHeader title={slug ?? 'New endpoint'} />
        <ErrorState error={loader.error} onRetry={loader.reload} />
      </>
    );
  }
  if (loader.loading && loader.data === undefined) return <LoadingState />;
  const data = loader.data ?? null;
  return (
    <EndpointEditor
      key={data ? `${data.endpoint.slug}-${data.endpoint.updated_at}` : 'new'}
      loaded={data}
      onChanged={loader.reload}
    />
  );
}

/**
 * Where focus goes when the editor is next drawn anew. A save, deploy or (de)activation reloads
 * the endpoint, and the editor is remade for the new version (its key): the button that was
 * pressed is gone. Set on success, used by the next editor within a few seconds.
 */
let focusOnMount: { target: 'heading' | 'active'; at: number } | null = null;

function focusAfterReload(target: 'heading' | 'active'): void {
  focusOnMount = { target, at: Date.now() };
}

/** API fields shown (and marked invalid) on an input of their own; others are listed together. */
const ON_INPUT = new Set([
  'slug',
  'name',
  'max_body_bytes',
  'retry.max_retries',
  'retry.interval_seconds',
  'expires_at',
]);

// Not `id`: every record has one already (`rec_…`), outside its data.
const STARTER: Field[] = [newField({ name: 'title', type: 'string', required: true })];

function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function EndpointEditor({ loaded, onChanged }: { loaded: Loaded | null; onChanged: () => void }) {
  const user = useUser();
  const readOnly = user.role !== 'owner';
  const endpoint = loaded?.endpoint ?? null;
  const deployed = loaded?.versions.find((v) => v.version === endpoint?.live_version) ?? null;
  const initialSchema = endpoint?.schema ?? schemaFromFields(STARTER);
  const initialFields = fieldsFromSchema(initialSchema);
  const [slug, setSlug] = useState(endpoint?.slug ?? '');
  const [name, setName] = useState(endpoint?.name ?? '');
  const [schemaText, setSchemaText] = useState(stringifyJson(initialSchema, 2));
  const [fields, setFields] = useState<Field[]>(initialFields.ok ? initialFields.fields : []);
  const [builderBlocked, setBuilderBlocked] = useState<string | null>(
    initialFields.ok ? null : initialFields.reason,
  );
  const [maxBody, setMaxBody] = useState<number | string>(endpoint?.max_body_bytes ?? 102_400);
  const [retries, setRetries] = useState<number | string>(endpoint?.retry.max_retries ?? 3);
  const [interval, setIntervalSeconds] = useState<number | string>(endpoint?.retry.interval_seconds ?? 60);
  const savedExpires = toLocalInput(endpoint?.expires_at ?? null);
  const [expires, setExpires] = useState(savedExpires);
  const [busy, setBusy] = useState<string | null>(null);
  const [savedNow, setSavedNow] = useState<Endpoint | null>(null);
  /** What the server refused in the schema (shown under it), and in the other fields (slug, name…). */
  const [serverProblems, setServerProblems] = useState<string[]>([]);
  const [fieldProblems, setFieldProblems] = useState<Record<string, string>>({});

  const focusNext = useFocusNext();
  const topFields = useRef<HTMLDivElement>(null);
  const settingsCard = useRef<HTMLDivElement>(null);
  const schemaInput = useRef<HTMLTextAreaElement>(null);
  const problemsAlert = useRef<HTMLDivElement>(null);
  const activeButton = useRef<HTMLButtonElement>(null);

  // Once, when this version's editor is drawn.
  useEffect(() => {
    const pending = focusOnMount;
    focusOnMount = null;
    if (!pending || Date.now() - pending.at > 10_000) return;
    const target =
      pending.target === 'active' ? activeButton.current : document.querySelector<HTMLElement>('main h1');
    target?.focus();
  }, []);

  const check = useMemo(() => checkSchemaText(schemaText), [schemaText]);
  // An input the builder leaves out of the schema (a word among a number field's allowed values):
  // the schema text checks, but saving it would keep a schema other than the one typed.
  const fieldsProblem = builderBlocked ? null : fieldInputProblem(fields);
  const schemaReady = check.ok && fieldsProblem === null;
  const schema = check.ok ? check.schema : null;
  // What a deploy publishes besides the schema: the name and settings on screen, as the schema
  // diff below shows the schema on screen (Deploy saves unsaved edits first). The saved draft's
  // made an unsaved rename read "the same as the deployed version", and a reverted one a change.
  const shownNumber = (value: number | string, saved: number) =>
    value === '' || !Number.isFinite(Number(value)) ? saved : Number(value);
  const settingChanges: Array<[string, string, string]> =
    deployed && endpoint
      ? (
          [
            ['Name', deployed.name, name.trim() === '' ? endpoint.name : name.trim()],
            ['Max body size (bytes)', deployed.max_body_bytes, shownNumber(maxBody, endpoint.max_body_bytes)],
            ['Retries', deployed.retry.max_retries, shownNumber(retries, endpoint.retry.max_retries)],
            [
              'Retry interval (s)',
              deployed.retry.interval_seconds,
              shownNumber(interval, endpoint.retry.interval_seconds),
            ],
          ] as Array<[string, string | number, string | number]>
        )
          .filter(([, was, now]) => was !== now)
          .map(([label, was, now]) => [label, String(was), String(now)])
      : [];
  const sample = useMemo(() => (schema ? sampleFor(schema) : null), [schema]);

  function editFields(next: Field[]) {
    setFields(next);
    const base = check.ok ? check.schema : {};
    setSchemaText(stringifyJson(schemaFromFields(next, base), 2));
  }

  function editText(text: string) {
    setSchemaText(text);
    const result = checkSchemaText(text);
    if (!result.ok) return;
    const parsed = fieldsFromSchema(result.schema);
    if (parsed.ok) {
      setFields(parsed.fields);
      setBuilderBlocked(null);
    } else setBuilderBlocked(parsed.reason);
  }

  const payload = {
    name: name.trim(),
    schema: schema ?? {},
    max_body_bytes: Number(maxBody),
    retry: { max_retries: Number(retries), interval_seconds: Number(interval) },
    // Untouched, the end keeps its seconds (the field shows minutes): 23:59:59 stays, not 23:59.
    expires_at:
      expires === ''
        ? null
        : expires === savedExpires
          ? (endpoint?.expires_at ?? null)
          : new Date(expires).toISOString(),
  };
  // What the server holds: the endpoint as loaded, or as a save here answered until the reload
  // draws the editor anew (between the two, the edit just saved read as unsaved: Save draft was
  // pressable again and leaving asked about changes already kept).
  const held = savedNow ?? endpoint;
  const saved = held && {
    name: held.name,
    schema: held.schema,
    max_body_bytes: held.max_body_bytes,
    retry: held.retry,
    expires_at: held.expires_at,
  };
  const dirty = !saved || stringifyJson(saved) !== stringifyJson(payload);
  // Leaving the page with unsaved edits asks first: a link within the app (the nav, Test), Back and
  // Forward, closing or reloading the tab. The edits were dropped without a word, and the test page
  // sent the saved draft, not the one on screen.
  const unsaved = dirty && !readOnly && (endpoint !== null || slug !== '');
  useLeaveGuard(unsaved, 'Leave this page? Your unsaved changes to this endpoint will be lost.');
  const slugError =
    endpoint === null && slug !== '' && !SLUG.test(slug)
      ? 'Lowercase letters, digits and -, 2 to 63 characters'
      : fieldProblems.slug;
  const otherProblems = Object.entries(fieldProblems).filter(([field]) => !ON_INPUT.has(field));
  // Two fields of one name would collapse into one in the schema: fix that first.
  const duplicateFields = hasDuplicateNames(fields);
  const slugOk = endpoint !== null || SLUG.test(slug);
  const canSave = schemaReady && !duplicateFields && payload.name !== '' && slugOk;
  // Why Create endpoint (or Save draft) cannot be pressed, said next to it.
  const saveBlocked = !check.ok
    ? 'Fix the schema first'
    : fieldsProblem
      ? `Fix the fields first (${fieldsProblem})`
      : duplicateFields
        ? 'Two fields have the same name'
        : !slugOk && payload.name === ''
          ? 'Enter a slug and a name'
          : !slugOk
            ? 'Enter a valid slug'
            : payload.name === ''
              ? 'Enter a name'
              : null;
  const schemaProblemCount = check.ok ? 0 : check.problems.length;
  // The schema's error (Mantine links it) says how many problems there are; the list is linked too.
  const schemaError = !check.ok
    ? `${schemaProblemCount} problem${schemaProblemCount === 1 ? '' : 's'}, listed below`
    : serverProblems.length > 0
      ? 'Refused by the server, see below'
      : undefined;
  const schemaListId = !check.ok ? 'schema-problems' : serverProblems.length > 0 ? 'schema-refused' : null;
  // Mantine sets aria-describedby itself (description and error); the list below is added to it
  // after each render, as React leaves the attribute alone until Mantine's value changes.
  useLayoutEffect(() => {
    const input = schemaInput.current;
    if (!input) return;
    const ids = (input.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter((id) => id !== '' && id !== 'schema-problems' && id !== 'schema-refused');
    if (schemaListId) ids.push(schemaListId);
    if (ids.length > 0) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  });

  async function save(): Promise<Endpoint | null> {
    // The payload's schema stands in as {} while the text does not check: never send that, nor a
    // schema that dropped what a field's inputs said.
    if (!schemaReady) return null;
    setServerProblems([]);
    setFieldProblems({});
    try {
      if (endpoint === null) {
        const created = await api.post<Endpoint>('/admin/v1/endpoints', { slug, ...payload });
        notifySuccess(`Endpoint ${created.slug} created`);
        // The new endpoint's page: focus on its heading.
        focusAfterReload('heading');
        navigate(`/endpoints/${encodeURIComponent(created.slug)}`);
        return created;
      }
      const updated = await api.patch<Endpoint>(
        `/admin/v1/endpoints/${encodeURIComponent(endpoint.slug)}`,
        payload,
      );
      setSavedNow(updated);
      notifySuccess('Draft saved');
      focusAfterReload('heading');
      onChanged();
      return updated;
    } catch (error) {
      const details = (error as { details?: { field: string; error: string }[] }).details ?? [];
      const inSchema = (field: string) => field === 'schema' || field.startsWith('schema.');
      setServerProblems(details.filter((d) => inSchema(d.field)).map((d) => `${d.field}: ${d.error}`));
      setFieldProblems(
        Object.fromEntries(details.filter((d) => !inSchema(d.field)).map((d) => [d.field, d.error])),
      );
      // Said once: the problems the server names are shown inline, on their fields and in the
      // lists; a toast only for a refusal with none (a network error, a 5xx).
      if (details.length === 0) notifyError(error, 'Could not save');
      // Focus goes to the first refused field (slug, name, schema, settings), else the list.
      focusNext(
        () => firstInvalid(topFields.current),
        () => (details.some((d) => inSchema(d.field)) ? schemaInput.current : null),
        () => firstInvalid(settingsCard.current),
        () => problemsAlert.current,
      );
      return null;
    }
  }

  /**
   * Runs a button's action with the button busy (disabled). Focus left on <body> by that goes back
   * to `button` unless the action placed it (a refused field); a reload then moves it on.
   */
  async function run(label: string, action: () => Promise<void>, button: HTMLElement | null) {
    setBusy(label);
    try {
      await action();
    } finally {
      setBusy(null);
      focusNext(() => (focusLost() ? button : null));
    }
  }

  function deploy() {
    if (!endpoint) return;
    const unchanged =
      deployed !== null &&
      settingChanges.length === 0 &&
      stringifyJson(deployed.schema) === stringifyJson(endpoint.schema);
    const next = (loaded?.versions[0]?.version ?? 0) + 1;
    const button = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    openConfirm({
      title: `Deploy version ${next}?`,
      children: (
        <Text size="sm">
          Live keys will validate against this schema and settings from now on.
          {dirty ? ' Your unsaved changes are saved first.' : ''}
          {!dirty && unchanged && deployed
            ? ` The draft is the same as version ${deployed.version}: this makes an identical version.`
            : ''}
        </Text>
      ),
      labels: { confirm: 'Deploy', cancel: 'Cancel' },
      onConfirm: () =>
        void run(
          'deploy',
          async () => {
            if (dirty && !(await save())) return;
            try {
              await api.post(`/admin/v1/endpoints/${encodeURIComponent(endpoint.slug)}/deploy`);
              notifySuccess(`Deployed version ${next}`);
              focusAfterReload('heading');
              onChanged();
            } catch (error) {
              notifyError(error, 'Could not deploy');
            }
          },
          button,
        ),
    });
  }

  function setActive(active: boolean) {
    if (!endpoint) return;
    const go = () =>
      run(
        'active',
        async () => {
          // As with deploy: unsaved edits are saved first, not thrown away by the reload that follows.
          if (dirty && !(await save())) return;
          try {
            await api.patch(`/admin/v1/endpoints/${encodeURIComponent(endpoint.slug)}`, { active });
            notifySuccess(active ? 'Endpoint activated' : 'Endpoint deactivated');
            focusAfterReload('active');
            onChanged();
          } catch (error) {
            notifyError(error);
          }
        },
        activeButton.current,
      );
    if (active) void go();
    else
      confirmAction({
        title: `Deactivate ${endpoint.slug}?`,
        message: `Every request to this endpoint will be refused until you activate it again.${
          dirty ? ' Your unsaved changes are saved first.' : ''
        }`,
        confirmLabel: 'Deactivate',
        onConfirm: go,
      });
  }

  function remove() {
    if (!endpoint) return;
    const button = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    confirmAction({
      title: `Delete ${endpoint.slug}?`,
      message: `The endpoint, its versions and all its records (test and live) are deleted. This cannot be undone.${
        unsaved ? ' Your unsaved changes go with it.' : ''
      }`,
      confirmLabel: 'Delete endpoint',
      onConfirm: () =>
        run(
          'delete',
          async () => {
            try {
              await api.del(`/admin/v1/endpoints/${encodeURIComponent(endpoint.slug)}`);
              notifySuccess(`Endpoint ${endpoint.slug} deleted`);
              navigate('/endpoints');
            } catch (error) {
              notifyError(error, 'Could not delete');
            }
          },
          button,
        ),
    });
  }

  return (
    <>
      <PageHeader
        title={endpoint ? endpoint.name : 'New endpoint'}
        description={
          endpoint ? (
            <Group gap="xs" component="span">
              {/* A slug of up to 63 characters wraps on a phone instead of widening the page. */}
              <Code style={{ overflowWrap: 'anywhere' }}>/api/v1/data/{endpoint.slug}</Code>
              <EndpointStatus endpoint={endpoint} />
              <Badge variant="light" color="gray">
                draft r{endpoint.draft_revision}
              </Badge>
              <Badge variant="light" color={endpoint.live_version ? 'indigo' : 'gray'}>
                {endpoint.live_version ? `live v${endpoint.live_version}` : 'not deployed'}
              </Badge>
            </Group>
          ) : (
            'Describe the records with fields or a JSON Schema; save the draft, then deploy it for live keys.'
          )
        }
        actions={
          <>
            {endpoint && (
              <Button
                component="a"
                variant="default"
                href={href(`/test/${encodeURIComponent(endpoint.slug)}`)}
              >
                Test
              </Button>
            )}
            {endpoint && user.role === 'owner' && endpoint.live_version !== null && (
              <Button
                component="a"
                variant="default"
                href={href(`/console/${encodeURIComponent(endpoint.slug)}`)}
                target="_blank"
                rel="noopener"
              >
                Open console
              </Button>
            )}
            {!readOnly && (
              <>
                {endpoint && (
                  <Button
                    ref={activeButton}
                    variant="default"
                    // Unsaved edits are saved first: not while the schema does not parse or check.
                    disabled={dirty && !schemaReady}
                    loading={busy === 'active'}
                    aria-describedby={dirty && !schemaReady ? 'save-blocked' : undefined}
                    onClick={() => setActive(!endpoint.active)}
                  >
                    {endpoint.active ? 'Deactivate' : 'Activate'}
                  </Button>
                )}
                {saveBlocked && (
                  <Text size="sm" c="dimmed" id="save-blocked" data-testid="save-blocked">
                    {saveBlocked}
                  </Text>
                )}
                <Button
                  variant={endpoint ? 'light' : 'filled'}
                  disabled={!canSave || (endpoint !== null && !dirty)}
                  loading={busy === 'save'}
                  aria-describedby={saveBlocked ? 'save-blocked' : undefined}
                  onClick={(event) => {
                    const button = event.currentTarget;
                    void run('save', async () => void (await save()), button);
                  }}
                >
                  {endpoint ? 'Save draft' : 'Create endpoint'}
                </Button>
                {endpoint && (
                  <Button
                    disabled={!check.ok || (dirty && !schemaReady)}
                    loading={busy === 'deploy'}
                    aria-describedby={!check.ok || (dirty && !schemaReady) ? 'save-blocked' : undefined}
                    onClick={deploy}
                  >
                    Deploy
                  </Button>
                )}
              </>
            )}
          </>
        }
      />
      {readOnly && (
        <Alert color="gray" mb="md">
          You can read this endpoint; only the owner can change or deploy it.
        </Alert>
      )}
      <Stack gap="md">
        <div ref={topFields}>
          <SlugNameFields
            slug={slug}
            name={name}
            onSlug={setSlug}
            onName={setName}
            slugLocked={endpoint !== null}
            slugError={slugError}
            slugDescription="Part of the URL; cannot be changed later"
            slugPlaceholder="orders"
            nameDescription="Shown in the docs and here"
            namePlaceholder="Orders"
            readOnly={readOnly}
            nameError={fieldProblems.name}
          />
        </div>

        <Grid gap="md">
          <Grid.Col span={{ base: 12, lg: 6 }}>
            <Card withBorder h="100%">
              <Title order={4} mb="xs">
                Fields
              </Title>
              {builderBlocked ? (
                <Alert color="gray" title="Edit this schema as JSON">
                  The builder cannot show it: {builderBlocked}.
                </Alert>
              ) : (
                <fieldset disabled={readOnly} style={{ border: 0, padding: 0, margin: 0 }}>
                  <FieldList fields={fields} onChange={editFields} />
                </fieldset>
              )}
            </Card>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 6 }}>
            <Card withBorder h="100%">
              <Group justify="space-between" mb="xs">
                <Title order={4}>JSON Schema</Title>
                <Badge color={check.ok ? 'teal' : 'red'} variant="light" data-testid="schema-validity">
                  {check.ok ? 'valid' : 'invalid'}
                </Badge>
              </Group>
              <Textarea
                ref={schemaInput}
                label="Schema (draft 2020-12)"
                description="Kept in sync with the fields; edit either"
                value={schemaText}
                onChange={(e) => editText(e.currentTarget.value)}
                readOnly={readOnly}
                autosize
                minRows={12}
                maxRows={28}
                {...MACHINE_TEXT}
                styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 13 } }}
                error={schemaError}
              />
              {!check.ok && (
                <List size="sm" c="red.8" mt="xs" data-testid="schema-problems" id="schema-problems">
                  {check.problems.map((p) => (
                    <List.Item key={`${p.path}:${p.message}`}>
                      {p.path ? <Code>{p.path}</Code> : null} {p.message}
                    </List.Item>
                  ))}
                </List>
              )}
              {serverProblems.length > 0 && (
                <Alert color="red" mt="xs" title="The server refused the schema" id="schema-refused">
                  {serverProblems.join('; ')}
                </Alert>
              )}
              {otherProblems.length > 0 && (
                <Alert
                  ref={problemsAlert}
                  color="red"
                  mt="xs"
                  title="The server refused the endpoint"
                  data-testid="endpoint-problems"
                  tabIndex={-1}
                >
                  {otherProblems.map(([field, error]) => `${field}: ${error}`).join('; ')}
                </Alert>
              )}
            </Card>
          </Grid.Col>
        </Grid>

        <Grid gap="md">
          <Grid.Col span={{ base: 12, lg: 6 }}>
            <Card withBorder h="100%">
              <Group justify="space-between" mb="xs">
                <Title order={4}>Sample payload</Title>
                {sample !== null && <CopyText value={stringifyJson(sample.value, 2)} />}
              </Group>
              {sample === null ? (
                <Text size="sm" c="dimmed">
                  Fix the schema to see a sample.
                </Text>
              ) : (
                <Stack gap="xs">
                  <SampleUnmet unmet={sample.unmet} />
                  <Code block data-testid="sample-payload">
                    {stringifyJson(sample.value, 2)}
                  </Code>
                </Stack>
              )}
            </Card>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 6 }}>
            <Card withBorder h="100%">
              <Title order={4} mb="xs">
                Draft vs deployed
              </Title>
              {deployed === null ? (
                <Text size="sm" c="dimmed">
                  Not deployed yet: live keys cannot use this endpoint until you deploy it.
                </Text>
              ) : (
                <Stack gap="xs">
                  <Text size="sm" c="dimmed">
                    Version {deployed.version}, deployed {formatDate(deployed.created_at)}
                  </Text>
                  {settingChanges.length > 0 && (
                    <Stack gap={2} data-testid="settings-diff">
                      {settingChanges.map(([label, was, now]) => (
                        <Text size="sm" key={label}>
                          {label}: <s>{was}</s> → <b>{now}</b>
                        </Text>
                      ))}
                    </Stack>
                  )}
                  <JsonDiff
                    before={deployed.schema}
                    after={schema ?? endpoint?.schema}
                    sameMessage={
                      settingChanges.length > 0
                        ? 'The schema is the same as the deployed version; the settings above are not: deploy to publish them.'
                        : undefined
                    }
                  />
                </Stack>
              )}
            </Card>
          </Grid.Col>
        </Grid>

        <Card withBorder ref={settingsCard}>
          <Title order={4} mb="xs">
            Settings
          </Title>
          <Grid>
            <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
              <NumberInput
                label="Max body size (bytes)"
                min={1}
                max={5 * 1024 * 1024}
                value={maxBody}
                onChange={setMaxBody}
                readOnly={readOnly}
                thousandSeparator=","
                error={fieldProblems.max_body_bytes}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
              <NumberInput
                label="Webhook retries"
                min={0}
                max={20}
                value={retries}
                onChange={setRetries}
                readOnly={readOnly}
                error={fieldProblems['retry.max_retries']}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
              <NumberInput
                label="Retry interval (seconds)"
                min={1}
                max={86_400}
                value={interval}
                onChange={setIntervalSeconds}
                readOnly={readOnly}
                error={fieldProblems['retry.interval_seconds']}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6, md: 3 }}>
              <TextInput
                label="Subscription ends at"
                description="Then calls get 403 subscription_expired. Empty: never"
                type="datetime-local"
                value={expires}
                onChange={(e) => setExpires(e.currentTarget.value)}
                readOnly={readOnly}
                error={fieldProblems.expires_at}
              />
            </Grid.Col>
          </Grid>
        </Card>

        {endpoint && loaded && loaded.versions.length > 0 && (
          <Card withBorder>
            <Title order={4} mb="xs">
              Deployed versions
            </Title>
            <List size="sm">
              {loaded.versions.map((v) => (
                <List.Item key={v.version}>
                  v{v.version} — {formatDate(v.created_at)}
                  {v.version === endpoint.live_version ? ' (live)' : ''}
                </List.Item>
              ))}
            </List>
          </Card>
        )}

        {endpoint && !readOnly && (
          <Card withBorder>
            <Group justify="space-between">
              <div>
                <Text fw={600}>Delete this endpoint</Text>
                <Text size="sm" c="dimmed">
                  Removes its versions and every record.
                </Text>
              </div>
              <Button color="red" variant="light" loading={busy === 'delete'} onClick={remove}>
                Delete endpoint
              </Button>
            </Group>
          </Card>
        )}
      </Stack>
    </>
  );
}
