import {
  ActionIcon,
  Alert,
  Autocomplete,
  Badge,
  Button,
  Card,
  Code,
  Grid,
  Group,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Tabs,
  Text,
  Textarea,
  TextInput,
  Title,
  UnstyledButton,
  VisuallyHidden,
} from '@mantine/core';
import { type FormEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { sampleFor } from '../../../src/endpoints/sample.ts';
import { api, errorMessage } from '../api/client.ts';
import { parseJson, stringifyJson } from '../api/exact-json.ts';
import type { ApiKey, Endpoint, TestRequest } from '../api/types.ts';
import { lastTestKey, rememberTestKey } from '../app/last-test-key.ts';
import { href } from '../app/router.ts';
import { useUser } from '../app/session.tsx';
import { useLoader } from '../app/use-loader.ts';
import { EmptyState, Loaded, SampleUnmet, useFocusNext } from '../components/feedback.tsx';
import { MACHINE_TEXT } from '../components/machine-text.ts';
import { jsonText, PageHeader, timeAgo } from '../components/page.tsx';
import { CopyText } from '../components/secret.tsx';
import { TableScroll } from '../components/table-scroll.tsx';

const METHODS = ['POST', 'GET', 'PUT', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

const HEADER_SUGGESTIONS = [
  'X-Webhook-Callback',
  'X-Webhook-Auth',
  'X-Webhook-Auth-Header',
  'Idempotency-Key',
  'Content-Type',
  'Accept',
];

interface HeaderRow {
  id: number;
  name: string;
  value: string;
}

export function statusColor(status: number): string {
  if (status >= 500) return 'red';
  if (status >= 400) return 'orange';
  if (status >= 300) return 'yellow';
  return 'teal';
}

/** Whether the key's expiry has passed at `now` (the server refuses such a key as api_key_expired). */
function hasExpired(key: ApiKey, now: number): boolean {
  return key.expires_at !== null && Date.parse(key.expires_at) <= now;
}

let headerId = 0;
const row = (name = '', value = ''): HeaderRow => ({ id: ++headerId, name, value });

export function TestPage({ initialSlug }: { initialSlug?: string } = {}) {
  const endpoints = useLoader(() => api.get<Endpoint[]>('/admin/v1/endpoints'), 'endpoints');
  const keys = useLoader(() => api.get<ApiKey[]>('/admin/v1/keys', { environment: 'test' }), 'test-keys');
  const history = useLoader(
    () => api.get<TestRequest[]>('/admin/v1/test-requests', { limit: 20 }),
    'history',
  );

  const [slug, setSlug] = useState<string | null>(initialSlug ?? null);
  const [method, setMethod] = useState<Method>('POST');
  const [recordId, setRecordId] = useState('');
  const [query, setQuery] = useState('');
  const [keyId, setKeyId] = useState<string | null>(null);
  const [headers, setHeaders] = useState<HeaderRow[]>([row('X-Webhook-Callback', '')]);
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<TestRequest | null>(null);
  /** Why the last Send failed (the request was not made), shown by the Send button. */
  const [problem, setProblem] = useState<string | null>(null);
  const responseHeading = useRef<HTMLHeadingElement>(null);
  const problemAlert = useRef<HTMLDivElement>(null);
  const focusNext = useFocusNext();

  /**
   * When keys were last judged for expiry: on load, when the key picker opens and on Send, so a
   * key that expires while the page is open is neither offered nor used.
   */
  const [now, setNow] = useState(() => Date.now());
  const activeKeys = useMemo(
    () =>
      (keys.data ?? []).filter(
        (k) => k.environment === 'test' && k.status === 'active' && !hasExpired(k, now),
      ),
    [keys.data, now],
  );
  const expiredPick = (keys.data ?? []).find((k) => k.id === keyId && hasExpired(k, now));
  const endpoint = endpoints.data?.find((e) => e.slug === slug) ?? null;

  useEffect(() => {
    if (slug === null && endpoints.data?.[0]) setSlug(endpoints.data[0].slug);
  }, [endpoints.data, slug]);
  // One's own key first (a collaborator's would put one's traffic on theirs); for the owner,
  // keys made with the CLI's token count as their own.
  const user = useUser();
  const ownKey = useCallback(
    (k: ApiKey) => k.created_by === user.id || (user.role === 'owner' && k.created_by === null),
    [user],
  );
  // The key last sent with in this browser while it is still usable, else one's own newest.
  useEffect(() => {
    if (keyId !== null) return;
    const last = lastTestKey(user.id);
    const preferred = activeKeys.find((k) => k.id === last) ?? activeKeys.find(ownKey) ?? activeKeys[0];
    if (preferred) setKeyId(preferred.id);
  }, [activeKeys, keyId, ownKey, user]);
  const sample = useMemo(() => {
    if (!endpoint) return null;
    const made = sampleFor(endpoint.schema);
    return { text: stringifyJson(made.value, 2), unmet: made.unmet };
  }, [endpoint]);
  useEffect(() => {
    if (sample) setBody(sample.text);
  }, [sample]);

  const needsId = method === 'PUT' || method === 'DELETE';
  const hasBody = method === 'POST' || method === 'PUT';
  let bodyError: string | undefined;
  let parsedBody: unknown;
  if (hasBody) {
    try {
      parsedBody = parseJson(body);
    } catch (error) {
      bodyError = `Not valid JSON: ${(error as Error).message}`;
    }
  }
  // A list (GET without a record id) may carry a query: filter[field]=value, limit, order, after.
  // A POST creates: a record id left in the (disabled) field from another method is not used.
  const id = method === 'POST' ? '' : recordId.trim();
  const listQuery = method === 'GET' && id === '' ? query.trim().replace(/^\?/, '') : '';
  const path = slug
    ? `/api/v1/data/${encodeURIComponent(slug)}${id ? `/${encodeURIComponent(id)}` : ''}${listQuery ? `?${listQuery}` : ''}`
    : '';
  const ready =
    slug !== null &&
    keyId !== null &&
    expiredPick === undefined &&
    (!needsId || recordId.trim() !== '') &&
    !bodyError;

  async function send(event: FormEvent) {
    event.preventDefault();
    if (!ready || keyId === null) return;
    const picked = keys.data?.find((k) => k.id === keyId);
    if (picked && hasExpired(picked, Date.now())) {
      // It expired since the picker was last opened: say so rather than send a request bound to 401.
      setNow(Date.now());
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      const sent: Record<string, string> = {};
      for (const h of headers) if (h.name.trim() !== '' && h.value !== '') sent[h.name.trim()] = h.value;
      const answer = await api.post<TestRequest>('/admin/v1/test-requests', {
        key_id: keyId,
        method,
        path,
        headers: sent,
        ...(hasBody ? { body: parsedBody } : {}),
      });
      setResult(answer);
      rememberTestKey(user.id, keyId);
      history.reload();
      // Send was disabled while busy: focus goes to the answer (its status is announced too).
      focusNext(() => responseHeading.current);
    } catch (error) {
      setProblem(errorMessage(error));
      focusNext(() => problemAlert.current);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <PageHeader
        title="Test requests"
        description="Send a request to the sandbox as one of your test keys would. The key's secret stays on the server."
      />
      <Grid gap="md">
        <Grid.Col span={{ base: 12, lg: 6 }}>
          <Card withBorder>
            <form onSubmit={send} aria-label="Test request">
              <Stack>
                {keys.data && activeKeys.length === 0 && (
                  <Alert color="yellow" title="No active test key">
                    Create a test key on the <a href={href('/keys')}>API keys</a> page first.
                  </Alert>
                )}
                <Grid>
                  <Grid.Col span={{ base: 12, sm: 6 }}>
                    <Select
                      label="Endpoint"
                      data={(endpoints.data ?? []).map((e) => ({
                        value: e.slug,
                        label: `${e.name} (${e.slug})`,
                      }))}
                      value={slug}
                      onChange={setSlug}
                      placeholder={endpoints.loading ? 'Loading…' : 'Pick an endpoint'}
                      allowDeselect={false}
                      required
                    />
                  </Grid.Col>
                  <Grid.Col span={{ base: 12, sm: 6 }}>
                    <Select
                      label="Test key"
                      data={activeKeys.map((k) => ({
                        value: k.id,
                        label: `${k.name} (${k.start}…)${ownKey(k) ? '' : ', a collaborator’s key'}`,
                      }))}
                      value={keyId}
                      onChange={setKeyId}
                      onDropdownOpen={() => setNow(Date.now())}
                      placeholder={keys.loading ? 'Loading…' : 'Pick a test key'}
                      error={
                        expiredPick &&
                        `The key ${expiredPick.name} expired ${timeAgo(expiredPick.expires_at ?? '')}: pick another test key.`
                      }
                      allowDeselect={false}
                      required
                    />
                  </Grid.Col>
                </Grid>
                <Stack gap={4}>
                  <Text size="sm" fw={500} id="method-label">
                    Method
                  </Text>
                  <SegmentedControl
                    aria-labelledby="method-label"
                    data={[...METHODS]}
                    value={method}
                    onChange={(v) => setMethod(v as Method)}
                  />
                </Stack>
                <TextInput
                  label="Record id"
                  {...MACHINE_TEXT}
                  description={
                    needsId ? 'Required for PUT and DELETE' : 'Optional: GET one record instead of the list'
                  }
                  placeholder="rec_…"
                  value={recordId}
                  onChange={(e) => setRecordId(e.currentTarget.value)}
                  disabled={method === 'POST'}
                  required={needsId}
                />
                <TextInput
                  label="Query"
                  {...MACHINE_TEXT}
                  description="For a GET of the list: filter[field]=value, limit, order, after"
                  placeholder="filter[status]=new&limit=10"
                  value={query}
                  onChange={(e) => setQuery(e.currentTarget.value)}
                  disabled={method !== 'GET' || recordId.trim() !== ''}
                />
                <Code>
                  {method} {path || '/api/v1/data/…'}
                </Code>
                <Stack gap={6}>
                  <Text size="sm" fw={500}>
                    Headers
                  </Text>
                  {headers.map((h, index) => (
                    <Group key={h.id} gap="xs" wrap="nowrap" align="flex-end">
                      <Autocomplete
                        aria-label={`Header ${index + 1} name`}
                        {...MACHINE_TEXT}
                        placeholder="Header"
                        data={HEADER_SUGGESTIONS}
                        value={h.name}
                        onChange={(v) =>
                          setHeaders(headers.map((x) => (x.id === h.id ? { ...x, name: v } : x)))
                        }
                        style={{ flex: 1 }}
                      />
                      <TextInput
                        aria-label={`Header ${index + 1} value`}
                        {...MACHINE_TEXT}
                        placeholder="Value"
                        value={h.value}
                        onChange={(e) => {
                          const value = e.currentTarget.value;
                          setHeaders(headers.map((x) => (x.id === h.id ? { ...x, value } : x)));
                        }}
                        style={{ flex: 1 }}
                      />
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        size="lg"
                        aria-label={`Remove header ${h.name || index + 1}`}
                        onClick={() => setHeaders(headers.filter((x) => x.id !== h.id))}
                      >
                        ✕
                      </ActionIcon>
                    </Group>
                  ))}
                  <Group>
                    <Button size="xs" variant="light" onClick={() => setHeaders([...headers, row()])}>
                      Add header
                    </Button>
                  </Group>
                </Stack>
                {hasBody && (
                  <Textarea
                    label="JSON body"
                    description="Prefilled with a sample from the draft schema"
                    value={body}
                    onChange={(e) => setBody(e.currentTarget.value)}
                    autosize
                    minRows={6}
                    maxRows={20}
                    {...MACHINE_TEXT}
                    error={bodyError}
                    styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 13 } }}
                  />
                )}
                {hasBody && sample && body === sample.text && <SampleUnmet unmet={sample.unmet} />}
                {problem && (
                  <Alert
                    ref={problemAlert}
                    color="red"
                    role="alert"
                    title="The test request failed"
                    tabIndex={-1}
                  >
                    {problem}
                  </Alert>
                )}
                <Group justify="space-between">
                  {sample && (
                    <Button variant="subtle" size="xs" onClick={() => setBody(sample.text)}>
                      Reset body to sample
                    </Button>
                  )}
                  <Button type="submit" loading={busy} disabled={!ready}>
                    Send
                  </Button>
                </Group>
              </Stack>
            </form>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 6 }}>
          <Card withBorder mih={200}>
            <Title order={4} mb="xs" ref={responseHeading} tabIndex={-1}>
              Response
            </Title>
            {/* Always there, so a screen reader announces each new answer's summary. */}
            <VisuallyHidden role="status" data-testid="response-summary">
              {result
                ? `Response ${result.status}, ${Math.round(result.duration_ms)} ms, to ${result.method} ${result.path}`
                : ''}
            </VisuallyHidden>
            {result ? (
              <ResponseView result={result} />
            ) : (
              <EmptyState title="Nothing sent yet">
                Send a request to see its status, headers and body.
              </EmptyState>
            )}
          </Card>
        </Grid.Col>
      </Grid>
      <Card withBorder mt="md" padding={0}>
        <Title order={4} p="md" pb={0}>
          History
        </Title>
        <Loaded
          loader={history}
          isEmpty={(list) => list.length === 0}
          empty={<EmptyState title="No test requests yet" />}
        >
          {(list) => (
            <TableScroll minWidth={560}>
              <Table highlightOnHover aria-label="Test request history" verticalSpacing="xs">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>When</Table.Th>
                    <Table.Th>Request</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th ta="right">Time</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.map((item) => (
                    <Table.Tr key={item.id} style={{ cursor: 'pointer' }} onClick={() => setResult(item)}>
                      <Table.Td>{timeAgo(item.created_at)}</Table.Td>
                      <Table.Td ff="monospace" fz="sm">
                        {/* A button, so the keyboard reaches it too (the row's click is for the mouse). */}
                        <UnstyledButton
                          ff="monospace"
                          fz="sm"
                          onClick={(event) => {
                            event.stopPropagation();
                            setResult(item);
                          }}
                          aria-label={`Show the answer to ${item.method} ${item.path}`}
                        >
                          {item.method} {item.path}
                        </UnstyledButton>
                      </Table.Td>
                      <Table.Td>
                        <Badge color={statusColor(item.status)}>{item.status}</Badge>
                      </Table.Td>
                      <Table.Td ta="right">{item.duration_ms} ms</Table.Td>
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

function ResponseView({ result }: { result: TestRequest }) {
  return (
    <Stack gap="sm" data-testid="test-response">
      <Group gap="sm">
        <Badge size="lg" color={statusColor(result.status)} data-testid="response-status">
          {result.status}
        </Badge>
        <Text size="sm" c="dimmed">
          {result.duration_ms} ms · {result.method} {result.path}
        </Text>
        <CopyText value={result.curl} label="Copy curl" />
      </Group>
      <Tabs defaultValue="body">
        <Tabs.List>
          <Tabs.Tab value="body">Body</Tabs.Tab>
          <Tabs.Tab value="headers">Headers</Tabs.Tab>
          <Tabs.Tab value="curl">curl</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="body" pt="xs">
          <Code block data-testid="response-body">
            {jsonText(result.body)}
          </Code>
        </Tabs.Panel>
        <Tabs.Panel value="headers" pt="xs">
          <Table fz="xs" aria-label="Response headers">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Header</Table.Th>
                <Table.Th>Value</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {Object.entries(result.headers ?? {}).map(([name, value]) => (
                <Table.Tr key={name}>
                  <Table.Th scope="row" ff="monospace" fw={400}>
                    {name}
                  </Table.Th>
                  <Table.Td ff="monospace" style={{ wordBreak: 'break-all' }}>
                    {String(value)}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Tabs.Panel>
        <Tabs.Panel value="curl" pt="xs">
          <Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
            {result.curl}
          </Code>
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
