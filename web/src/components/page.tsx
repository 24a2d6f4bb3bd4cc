import { Button, Group, Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { parseJson, stringifyJson } from '../api/exact-json.ts';

export function PageHeader({
  title,
  description,
  actions,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <Group justify="space-between" align="flex-start" mb="lg" wrap="wrap" gap="sm">
      <Stack gap={2}>
        {/* The page's one h1 (the header's brand is not a heading); focusable for focus return. A
            name without spaces (an endpoint's, up to 200 characters) wraps instead of widening the page. */}
        <Title order={1} size="h2" tabIndex={-1} style={{ overflowWrap: 'anywhere' }}>
          {title}
        </Title>
        {description && (
          <Text c="dimmed" size="sm">
            {description}
          </Text>
        )}
      </Stack>
      {actions && <Group gap="xs">{actions}</Group>}
    </Group>
  );
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function timeAgo(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 0) return `in ${formatSpan(-seconds)}`;
  if (seconds < 10) return 'just now';
  return `${formatSpan(seconds)} ago`;
}

function formatSpan(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function jsonText(value: unknown): string {
  if (typeof value === 'string') {
    try {
      return stringifyJson(parseJson(value), 2);
    } catch {
      return value;
    }
  }
  return stringifyJson(value, 2) ?? '';
}

/** The foot of a cursor-paginated list: "Load more" while there is a next page, else `end`. */
export function LoadMore({
  hasMore,
  loading,
  onMore,
  end,
}: {
  hasMore: boolean;
  loading: boolean;
  onMore(): void;
  end: ReactNode;
}) {
  return (
    <Group justify="center" p="sm">
      {hasMore ? (
        <Button variant="default" loading={loading} onClick={onMore}>
          Load more
        </Button>
      ) : (
        <Text size="xs" c="dimmed">
          {end}
        </Text>
      )}
    </Group>
  );
}
