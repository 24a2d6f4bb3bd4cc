import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Grid,
  Group,
  List,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { useMemo, useRef, useState } from 'react';
import { notLiveEndpoints } from '../../../src/apps/named-endpoints.ts';
import { ApiFailure, api, type ErrorDetail } from '../api/client.ts';
import { stringifyJson } from '../api/exact-json.ts';
import type { App, AppVersion, Endpoint } from '../api/types.ts';
import { navigate, useLeaveGuard } from '../app/router.ts';
import { useLoader } from '../app/use-loader.ts';
import {
  AUTH_LABELS,
  checkRoutesText,
  exampleRoutes,
  type RouteSummary,
  routesText,
  routeUrl,
  summarizeRoutes,
} from '../apps/definition.ts';
import {
  confirmAction,
  ErrorState,
  firstInvalid,
  LoadingState,
  notifyError,
  notifySuccess,
  openConfirm,
  refusedFields,
  useFocusNext,
} from '../components/feedback.tsx';
import { MACHINE_TEXT } from '../components/machine-text.ts';
import { formatDate, PageHeader } from '../components/page.tsx';
import { SlugNameFields } from '../components/slug-name-fields.tsx';
import { AppDeployBadges } from './apps.tsx';

interface Loaded {
  app: App | null;
  versions: AppVersion[];
  endpoints: string[];
  /** Every endpoint as listed: whether each is live, for the deploy's question. */
  endpointList: Endpoint[];
}

const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;

/** The API fields shown (and marked invalid) on an input of their own; the rest above the routes. */
const ON_INPUT = new Set(['slug', 'name']);

export function AppEditorPage({ slug }: { slug: string | null }) {
  const loader = useLoader<Loaded>(async () => {
    const endpoints = api.get<Endpoint[]>('/admin/v1/endpoints');
    if (slug === null) {
      const list = await endpoints;
      return { app: null, versions: [], endpoints: list.map((e) => e.slug), endpointList: list };
    }
    const path = `/admin/v1/apps/${encodeURIComponent(slug)}`;
    const [app, versions, list] = await Promise.all([
      api.get<App>(path),
      api.get<AppVersion[]>(`${path}/versions`),
      endpoints,
    ]);
    return { app, versions, endpoints: list.map((e) => e.slug), endpointList: list };
  }, slug ?? '(new)');
  if (loader.error !== undefined) {
    return (
      <>
        <PageHeader title={slug ?? 'New app'} />
        <ErrorState error={loader.error} onRetry={loader.reload} />
      </>
    );
  }
  if (loader.data === undefined) return <LoadingState />;
  const { app } = loader.data;
  return (
    <AppEditor
      key={app ? `${app.slug}-${app.updated_at}` : 'new'}
      loaded={loader.data}
      onChanged={loader.reload}
    />
  );
}

function AppEditor({ loaded, onChanged }: { loaded: Loaded; onChanged: () => void }) {
  const { app, versions, endpoints, endpointList } = loaded;
  const [slug, setSlug] = useState(app?.slug ?? '');
  const [name, setName] = useState(app?.name ?? '');
  const [text, setText] = useState(() => routesText(app?.routes ?? exampleRoutes(endpoints[0] ?? 'orders')));
  /** A new app's starting routes (the example): left as they are, they are no edit to lose. */
  const [exampleText] = useState(text);
  const [busy, setBusy] = useState<string | null>(null);
  /** What the server refused that no input shows (above the routes), and what they show. */
  const [refused, setRefused] = useState<{
    title: string;
    message: string;
    details: ErrorDetail[];
  } | null>(null);
  const [fieldProblems, setFieldProblems] = useState<Record<string, string>>({});
  const focusNext = useFocusNext();
  const topFields = useRef<HTMLDivElement>(null);
  const problemsAlert = useRef<HTMLDivElement>(null);

  const check = useMemo(() => checkRoutesText(text), [text]);
  const summary = useMemo(() => summarizeRoutes(check.ok ? check.routes : (app?.routes ?? [])), [check, app]);

  const payload = { name: name.trim(), routes: check.ok ? check.routes : [] };
  const dirty =
    app === null || stringifyJson({ name: app.name, routes: app.routes }) !== stringifyJson(payload);
  const slugError =
    app === null && slug !== '' && !SLUG.test(slug)
      ? 'Lowercase letters, digits and -, 2 to 63 characters'
      : fieldProblems.slug;
  const canSave = check.ok && payload.name !== '' && (app !== null || SLUG.test(slug));
  const unsaved = app === null ? slug !== '' || name !== '' || text !== exampleText : dirty;
  useLeaveGuard(unsaved, 'Leave this page? Your unsaved changes to this app will be lost.');

  /**
   * Says a refusal once: what it names on the Slug and Name fields and above the routes (a 400
   * without details there too), a toast only for one with nothing to show inline (a network
   * error, a 5xx, a 409 naming no field). Focus goes to the first refused field, else the list.
   */
  function refusal(error: unknown, title: string, failure: string): void {
    const details = error instanceof ApiFailure ? error.details : [];
    if (details.length === 0 && !(error instanceof ApiFailure && error.status === 400)) {
      notifyError(error, failure);
      return;
    }
    const message = error instanceof ApiFailure ? error.message : '';
    setFieldProblems(refusedFields(error, (name) => (ON_INPUT.has(name) ? name : null)));
    const rest = details.filter((d) => !ON_INPUT.has(d.field));
    if (details.length === 0 || rest.length > 0) setRefused({ title, message, details: rest });
    focusNext(
      () => firstInvalid(topFields.current),
      () => problemsAlert.current,
    );
  }

  async function save(): Promise<boolean> {
    setRefused(null);
    setFieldProblems({});
    try {
      if (app === null) {
        const created = await api.post<App>('/admin/v1/apps', { slug, ...payload });
        notifySuccess(`App ${created.slug} created`);
        navigate(`/apps/${encodeURIComponent(created.slug)}`);
        return true;
      }
      await api.patch<App>(`/admin/v1/apps/${encodeURIComponent(app.slug)}`, payload);
      notifySuccess('Draft saved');
      onChanged();
      return true;
    } catch (error) {
      refusal(error, 'The server refused the definition; nothing was saved', 'Could not save');
      return false;
    }
  }

  async function run(label: string, action: () => Promise<void>) {
    setBusy(label);
    try {
      await action();
    } finally {
      setBusy(null);
    }
  }

  function deploy() {
    if (!app) return;
    const next = (versions[0]?.version ?? 0) + 1;
    // A live call whose steps reach an endpoint that is not live is refused (403): said before.
    const idle = notLiveEndpoints(check.ok ? check.routes : app.routes, endpointList);
    openConfirm({
      title: `Deploy version ${next}?`,
      children: (
        <Stack gap="sm">
          <Text size="sm">
            Live keys and public calls without <Code>?environment=test</Code> run these routes from now on.
            {dirty ? ' Your unsaved changes are saved first.' : ''}
          </Text>
          {idle.length > 0 && (
            <Alert color="yellow" title="Endpoints not live" data-testid="deploy-idle-endpoints">
              {idle.map((slug, i) => (
                <span key={slug}>
                  {i > 0 && ', '}
                  <Code>{slug}</Code>
                </span>
              ))}{' '}
              {idle.length === 1 ? 'is' : 'are'} not deployed to live, or inactive: live calls whose steps use{' '}
              {idle.length === 1 ? 'it' : 'them'} answer 403 until you deploy or activate{' '}
              {idle.length === 1 ? 'it' : 'them'}.
            </Alert>
          )}
        </Stack>
      ),
      labels: { confirm: 'Deploy', cancel: 'Cancel' },
      onConfirm: () =>
        void run('deploy', async () => {
          if (dirty && !(await save())) return;
          try {
            await api.post(`/admin/v1/apps/${encodeURIComponent(app.slug)}/deploy`);
            notifySuccess(`Deployed version ${next}`);
            onChanged();
          } catch (error) {
            refusal(error, 'The server refused the definition; it was not deployed', 'Could not deploy');
          }
        }),
    });
  }

  function remove() {
    if (!app) return;
    confirmAction({
      title: `Delete ${app.slug}?`,
      message: `The app and its deployed versions are deleted; /api/v1/apps/${app.slug}/… answers 404 from now on. Records are kept. This cannot be undone.`,
      confirmLabel: 'Delete app',
      onConfirm: () =>
        run('delete', async () => {
          try {
            await api.del(`/admin/v1/apps/${encodeURIComponent(app.slug)}`);
            notifySuccess(`App ${app.slug} deleted`);
            navigate('/apps');
          } catch (error) {
            notifyError(error, 'Could not delete');
          }
        }),
    });
  }

  function resetToExample() {
    setText(routesText(exampleRoutes(endpoints[0] ?? 'orders')));
  }

  return (
    <>
      <PageHeader
        title={app ? app.name : 'New app'}
        description={
          app ? (
            <Group gap="xs" component="span">
              {/* A slug of up to 63 characters wraps on a phone instead of widening the page. */}
              <Code style={{ overflowWrap: 'anywhere' }}>/api/v1/apps/{app.slug}</Code>
              <AppDeployBadges app={app} />
            </Group>
          ) : (
            'Name the app, describe its routes as JSON, create it (test keys use the draft at once), then deploy it for live keys.'
          )
        }
        actions={
          <>
            <Button
              variant={app ? 'light' : 'filled'}
              disabled={!canSave || (app !== null && !dirty)}
              loading={busy === 'save'}
              onClick={() => void run('save', async () => void (await save()))}
            >
              {app ? 'Save draft' : 'Create app'}
            </Button>
            {app && (
              <Button disabled={!check.ok} loading={busy === 'deploy'} onClick={deploy}>
                Deploy
              </Button>
            )}
          </>
        }
      />
      <Stack gap="md">
        <div ref={topFields}>
          <SlugNameFields
            slug={slug}
            name={name}
            onSlug={setSlug}
            onName={setName}
            slugLocked={app !== null}
            slugError={slugError}
            slugDescription="Part of the URL: /api/v1/apps/{slug}; cannot be changed later"
            slugPlaceholder="shop"
            nameDescription="Shown here and in the API reference"
            namePlaceholder="Shop"
            nameError={fieldProblems.name}
          />
        </div>

        <Grid gap="md">
          <Grid.Col span={{ base: 12, lg: 7 }}>
            <Card withBorder h="100%">
              <Group justify="space-between" mb="xs">
                <Title order={4}>Routes</Title>
                <Group gap="xs">
                  {app === null && (
                    <Button size="compact-xs" variant="subtle" onClick={resetToExample}>
                      Reset to the example
                    </Button>
                  )}
                  <Badge color={check.ok ? 'teal' : 'red'} variant="light" data-testid="routes-validity">
                    {check.ok ? 'valid JSON' : 'invalid'}
                  </Badge>
                </Group>
              </Group>
              {refused && (
                <Alert
                  ref={problemsAlert}
                  color="red"
                  mb="sm"
                  title={refused.title}
                  data-testid="app-problems"
                  role="alert"
                  tabIndex={-1}
                >
                  {refused.details.length === 0 ? (
                    refused.message
                  ) : (
                    <List size="sm">
                      {refused.details.map((d) => (
                        <List.Item key={`${d.field}:${d.error}`}>
                          <Code>{d.field}</Code> <span>{d.error}</span>
                        </List.Item>
                      ))}
                    </List>
                  )}
                </Alert>
              )}
              <Textarea
                label="Routes (JSON)"
                description={
                  <>
                    An array of routes: method, path, auth, steps (find, get, create, update, delete,
                    transform, respond, redirect).{' '}
                    <Anchor href="/docs/" target="_blank" size="xs">
                      Reference
                    </Anchor>
                  </>
                }
                value={text}
                onChange={(e) => setText(e.currentTarget.value)}
                autosize
                minRows={14}
                maxRows={32}
                {...MACHINE_TEXT}
                styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 13 } }}
                error={check.ok ? undefined : ' '}
              />
              {!check.ok && (
                <List size="sm" c="red.8" mt="xs" data-testid="routes-problems">
                  {check.problems.map((p) => (
                    <List.Item key={p}>{p}</List.Item>
                  ))}
                </List>
              )}
              <Text size="xs" c="dimmed" mt="xs">
                Endpoints you can use:{' '}
                {endpoints.length === 0 ? 'none yet — create one first' : endpoints.join(', ')}
              </Text>
            </Card>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 5 }}>
            <Card withBorder mb="md">
              <Title order={4} mb="xs">
                Summary
              </Title>
              {!check.ok && app !== null && (
                <Text size="xs" c="dimmed" mb="xs">
                  Showing the saved draft until the JSON is fixed.
                </Text>
              )}
              <RouteTable app={app?.slug ?? slug} routes={summary} />
            </Card>
            {app && (
              <Card withBorder>
                <Title order={4} mb="xs">
                  Deployed versions
                </Title>
                {versions.length === 0 ? (
                  <Text size="sm" c="dimmed">
                    Not deployed yet: test keys run the draft; live keys get 403 until you deploy.
                  </Text>
                ) : (
                  <Table aria-label="Deployed versions" verticalSpacing="xs">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Version</Table.Th>
                        <Table.Th>Name</Table.Th>
                        <Table.Th ta="right">Routes</Table.Th>
                        <Table.Th>Deployed</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {versions.map((v) => (
                        <Table.Tr key={v.version} data-testid="app-version">
                          <Table.Td>
                            <Group gap={6} wrap="nowrap">
                              <Text size="sm" ff="monospace">
                                v{v.version}
                              </Text>
                              {v.version === app.live_version && (
                                <Badge size="sm" color="indigo" variant="light">
                                  live
                                </Badge>
                              )}
                            </Group>
                          </Table.Td>
                          <Table.Td>{v.name}</Table.Td>
                          <Table.Td ta="right">{v.routes.length}</Table.Td>
                          <Table.Td>{formatDate(v.created_at)}</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                )}
              </Card>
            )}
          </Grid.Col>
        </Grid>

        {app && (
          <Card withBorder>
            <Group justify="space-between">
              <div>
                <Text fw={600}>Delete this app</Text>
                <Text size="sm" c="dimmed">
                  Removes its draft and versions; the endpoints' records stay.
                </Text>
              </div>
              <Button color="red" variant="light" loading={busy === 'delete'} onClick={remove}>
                Delete app
              </Button>
            </Group>
          </Card>
        )}
      </Stack>
    </>
  );
}

const METHOD_COLORS: Record<string, string> = { GET: 'teal', POST: 'indigo' };

function RouteTable({ app, routes }: { app: string; routes: RouteSummary[] }) {
  if (routes.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        No routes yet.
      </Text>
    );
  }
  return (
    <Stack gap="sm" data-testid="route-summary">
      {routes.map((route) => (
        <Stack key={route.key} gap={4} data-testid="route-summary-item">
          <Group gap={6} wrap="nowrap" align="flex-start">
            <Badge color={METHOD_COLORS[route.method] ?? 'gray'} variant="filled" w={56}>
              {route.method}
            </Badge>
            <Code style={{ wordBreak: 'break-all' }}>{routeUrl(app, route.path)}</Code>
          </Group>
          <Group gap={6}>
            <Badge size="sm" variant="outline" color={route.auth === 'public' ? 'orange' : 'gray'}>
              {AUTH_LABELS[route.auth] ?? route.auth}
            </Badge>
            {route.description && (
              <Text size="xs" c="dimmed">
                {route.description}
              </Text>
            )}
          </Group>
          <Group gap={4}>
            {route.steps.map((step) => (
              <Badge
                key={step.key}
                size="sm"
                variant="light"
                color={step.conditional ? 'yellow' : 'gray'}
                tt="none"
                title={step.conditional ? 'Runs only when its condition holds' : undefined}
              >
                {step.position}. {step.name}: {step.type}
                {step.conditional ? ' (when)' : ''}
              </Badge>
            ))}
          </Group>
        </Stack>
      ))}
    </Stack>
  );
}
