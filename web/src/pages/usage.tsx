import { BarChart, type BarChartProps, LineChart, type LineChartProps } from '@mantine/charts';
import { Card, Group, SegmentedControl, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import type { AriaAttributes } from 'react';
import { api } from '../api/client.ts';
import type { ApiKey, Environment, Usage, UsageRow } from '../api/types.ts';
import { oneOf, setRouteQuery, useRouteQuery } from '../app/router.ts';
import { useLoader } from '../app/use-loader.ts';
import { EmptyState, Loaded } from '../components/feedback.tsx';
import { PageHeader } from '../components/page.tsx';
import { daysAgo } from './endpoints.tsx';

const COLORS = ['indigo.6', 'teal.6', 'orange.6', 'grape.6', 'cyan.6', 'pink.6', 'lime.7', 'gray.6'];
const STATUS_COLORS: Record<string, string> = {
  '2xx': 'teal.6',
  '3xx': 'cyan.6',
  '4xx': 'orange.6',
  '5xx': 'red.6',
  '1xx': 'gray.5',
};
const MAX_SERIES = 7;

/**
 * Which keys' requests the page counts: live keys' (the default: limits and billing), test keys',
 * or both. The Deliveries page picks its environment from the same choices.
 */
export type EnvironmentShown = Environment | 'both';
export const ENVIRONMENTS: { value: EnvironmentShown; label: string }[] = [
  { value: 'live', label: 'Production' },
  { value: 'test', label: 'Sandbox' },
  { value: 'both', label: 'Both' },
];
/** The empty state: an owner whose keys are all sandbox ones learns where their requests are. */
const NONE_IN: Record<EnvironmentShown, { title: string; hint: string }> = {
  live: {
    title: 'No production requests in this range',
    hint: "Live keys' requests appear here; test keys' are under Sandbox.",
  },
  test: {
    title: 'No sandbox requests in this range',
    hint: "Test keys' requests appear here; live keys' are under Production.",
  },
  both: { title: 'No requests in this range', hint: 'Usage appears here once keys call the API.' },
};
const RANGES = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
];
const DEFAULT_SHOWN: EnvironmentShown = 'live';
const DEFAULT_DAYS = '7';

/** What Mantine hands on to the Recharts chart, a bar chart's and a line chart's alike. */
type ChartProps = NonNullable<BarChartProps['barChartProps']> & NonNullable<LineChartProps['lineChartProps']>;

/**
 * A chart's name for screen readers: its SVG is a Tab stop (Recharts' keyboard layer, role
 * application) and was read as an unnamed "application". Recharts passes ARIA attributes on to the
 * SVG without typing them; `title` would name it too, but with a browser tooltip over Recharts' own.
 */
function chartName(name: string): ChartProps {
  const props: ChartProps & AriaAttributes = { 'aria-label': name };
  return props;
}

/**
 * A legend entry stays within its chart, cut short with an ellipsis: a key's name (up to 200
 * characters) ran off both edges of a phone-wide chart, its colour swatch out of sight with it.
 */
const LEGEND_STYLES = {
  legendItem: { maxWidth: '100%' },
  legendItemName: { minWidth: 0, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' },
} as const;

interface ChartData {
  data: Record<string, string | number>[];
  series: { name: string; label: string; color: string }[];
}

function dayList(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** Rows grouped by day and one dimension → one bar per day, one stacked series per value (top N, then "other"). */
function byDay(
  usage: Usage,
  dimension: 'key_id' | 'endpoint' | 'status_class',
  label: (value: string) => string,
  color?: (value: string) => string | undefined,
): ChartData {
  const totals = new Map<string, number>();
  for (const row of usage.rows) {
    const value = String(row[dimension] ?? '(none)');
    totals.set(value, (totals.get(value) ?? 0) + row.count);
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([v]) => v);
  const kept = dimension === 'status_class' ? ranked.sort() : ranked.slice(0, MAX_SERIES);
  const keyOf = new Map(kept.map((v, i) => [v, `s${i}`]));
  const series = kept.map((v, i) => ({
    name: `s${i}`,
    label: label(v),
    color: color?.(v) ?? COLORS[i % COLORS.length] ?? 'gray.6',
  }));
  if (ranked.length > kept.length) series.push({ name: 'other', label: 'other', color: 'gray.5' });
  const days = new Map(
    dayList(usage.from, usage.to).map((d) => [d, { day: d.slice(5) } as Record<string, string | number>]),
  );
  for (const entry of days.values()) for (const s of series) entry[s.name] = 0;
  for (const row of usage.rows) {
    const entry = row.day ? days.get(row.day) : undefined;
    if (!entry) continue;
    const name = keyOf.get(String(row[dimension] ?? '(none)')) ?? 'other';
    entry[name] = Number(entry[name] ?? 0) + row.count;
  }
  return { data: [...days.values()], series };
}

function errorRate(rows: UsageRow[], from: string, to: string) {
  const days = new Map(dayList(from, to).map((d) => [d, { total: 0, errors: 0, limited: 0 }]));
  for (const row of rows) {
    const entry = row.day ? days.get(row.day) : undefined;
    if (!entry) continue;
    entry.total += row.count;
    entry.limited += row.rate_limited;
    if (row.status_class === '4xx' || row.status_class === '5xx') entry.errors += row.count;
  }
  return [...days.entries()].map(([day, e]) => ({
    day: day.slice(5),
    error_rate: e.total === 0 ? 0 : Math.round((e.errors / e.total) * 1000) / 10,
    rate_limited: e.limited,
  }));
}

interface StatusCount {
  label: string;
  count: number;
}

/** 4xx and 5xx answers over the range by exact status, most frequent first. */
function errorStatuses(rows: UsageRow[]): StatusCount[] {
  const counts = new Map<string, number>();
  for (const row of rows) {
    if (row.status_class !== '4xx' && row.status_class !== '5xx') continue;
    // Counted before exact statuses were recorded: only the class is known.
    const label = row.status ? String(row.status) : `${row.status_class} (earlier)`;
    counts.set(label, (counts.get(label) ?? 0) + row.count);
  }
  return [...counts.entries()]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
}

function ErrorStatuses({ statuses, total }: { statuses: StatusCount[]; total: number }) {
  if (statuses.length === 0) return <Text c="dimmed">No 4xx or 5xx answers in this range.</Text>;
  return (
    <Table aria-label="Errors by status" verticalSpacing="xs">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Status</Table.Th>
          <Table.Th ta="right">Requests</Table.Th>
          <Table.Th ta="right">Share of all</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {statuses.map((s) => (
          <Table.Tr key={s.label} data-testid={`error-status-${s.label}`}>
            <Table.Td>{s.label}</Table.Td>
            <Table.Td ta="right">{s.count.toLocaleString()}</Table.Td>
            <Table.Td ta="right">{total === 0 ? '0' : ((s.count / total) * 100).toFixed(1)}%</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function ChartCard({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        {title}
      </Title>
      {children}
    </Card>
  );
}

export function UsagePage() {
  // Kept in the address (#/usage?environment=test&days=30): a reload or a shared link shows the same.
  const query = useRouteQuery();
  const shown = oneOf(query.get('environment'), ENVIRONMENTS, DEFAULT_SHOWN);
  const days = oneOf(query.get('days'), RANGES, DEFAULT_DAYS);
  const choose = (next: { shown?: EnvironmentShown; days?: string }) => {
    const environment = next.shown ?? shown;
    const range = next.days ?? days;
    setRouteQuery({
      environment: environment === DEFAULT_SHOWN ? undefined : environment,
      days: range === DEFAULT_DAYS ? undefined : range,
    });
  };
  const keys = useLoader(() => api.get<ApiKey[]>('/admin/v1/keys'), 'keys');
  const usage = useLoader(async () => {
    const range = {
      from: daysAgo(Number(days) - 1),
      to: daysAgo(0),
      ...(shown !== 'both' && { environment: shown }),
    };
    const [byKey, byEndpoint, byStatus] = await Promise.all([
      api.get<Usage>('/admin/v1/usage', { ...range, group_by: 'day,key_id' }),
      api.get<Usage>('/admin/v1/usage', { ...range, group_by: 'day,endpoint' }),
      api.get<Usage>('/admin/v1/usage', { ...range, group_by: 'day,status_class,status' }),
    ]);
    return { byKey, byEndpoint, byStatus };
  }, `${days}-${shown}`);
  const keyName = (id: string) => keys.data?.find((k) => k.id === id)?.name ?? id;

  return (
    <>
      <PageHeader
        title="Usage"
        description="Requests to the data API per day (UTC), from the metering data. Production: live keys; Sandbox: test keys."
        actions={
          <>
            <SegmentedControl
              aria-label="Environment"
              value={shown}
              onChange={(value) => choose({ shown: oneOf(value, ENVIRONMENTS, DEFAULT_SHOWN) })}
              data={ENVIRONMENTS}
            />
            <SegmentedControl
              aria-label="Range"
              value={days}
              onChange={(value) => choose({ days: value })}
              data={RANGES}
            />
          </>
        }
      />
      <Loaded
        loader={usage}
        isEmpty={(u) => u.byStatus.totals.count === 0}
        empty={
          <Card withBorder>
            <EmptyState title={NONE_IN[shown].title}>{NONE_IN[shown].hint}</EmptyState>
          </Card>
        }
      >
        {({ byKey, byEndpoint, byStatus }) => {
          const total = byStatus.totals.count;
          const errors = byStatus.rows
            .filter((r) => r.status_class === '4xx' || r.status_class === '5xx')
            .reduce((sum, r) => sum + r.count, 0);
          const rates = errorRate(byStatus.rows, byStatus.from, byStatus.to);
          const keyChart = byDay(byKey, 'key_id', keyName);
          const endpointChart = byDay(byEndpoint, 'endpoint', (v) => (v === '(none)' ? '(no endpoint)' : v));
          const statusChart = byDay(
            byStatus,
            'status_class',
            (v) => v,
            (v) => STATUS_COLORS[v],
          );
          return (
            <Stack gap="md" data-testid="usage-charts">
              <SimpleGrid cols={{ base: 1, sm: 3 }}>
                <Stat label="Requests" value={total.toLocaleString()} />
                <Stat
                  label="Error rate (4xx + 5xx)"
                  value={`${total === 0 ? 0 : ((errors / total) * 100).toFixed(1)}%`}
                />
                <Stat label="Rate limited" value={byStatus.totals.rate_limited.toLocaleString()} />
              </SimpleGrid>
              <SimpleGrid cols={{ base: 1, lg: 2 }}>
                <ChartCard title="Requests by key">
                  <BarChart
                    h={260}
                    barChartProps={chartName('Requests by key')}
                    data={keyChart.data}
                    dataKey="day"
                    type="stacked"
                    series={keyChart.series}
                    withLegend
                    styles={LEGEND_STYLES}
                  />
                </ChartCard>
                <ChartCard title="Requests by endpoint">
                  <BarChart
                    h={260}
                    barChartProps={chartName('Requests by endpoint')}
                    data={endpointChart.data}
                    dataKey="day"
                    type="stacked"
                    series={endpointChart.series}
                    withLegend
                    styles={LEGEND_STYLES}
                  />
                </ChartCard>
                <ChartCard title="Requests by status class">
                  <BarChart
                    h={260}
                    barChartProps={chartName('Requests by status class')}
                    data={statusChart.data}
                    dataKey="day"
                    type="stacked"
                    series={statusChart.series}
                    withLegend
                    styles={LEGEND_STYLES}
                  />
                </ChartCard>
                <ChartCard title="Error rate and rate limiting">
                  <LineChart
                    h={260}
                    lineChartProps={chartName('Error rate and rate limiting')}
                    data={rates}
                    dataKey="day"
                    withLegend
                    styles={LEGEND_STYLES}
                    withRightYAxis
                    rightYAxisLabel="rate limited"
                    yAxisLabel="% errors"
                    series={[
                      { name: 'error_rate', label: 'Error rate (%)', color: 'red.6' },
                      { name: 'rate_limited', label: 'Rate limited', color: 'orange.6', yAxisId: 'right' },
                    ]}
                  />
                </ChartCard>
              </SimpleGrid>
              <ChartCard title="Errors by status">
                <ErrorStatuses statuses={errorStatuses(byStatus.rows)} total={total} />
              </ChartCard>
            </Stack>
          );
        }}
      </Loaded>
    </>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <Card withBorder>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Group>
        <Text size="xl" fw={700} data-testid={`stat-${label}`}>
          {value}
        </Text>
      </Group>
    </Card>
  );
}
