import { Box, Text } from '@mantine/core';
import { diffLines } from 'diff';
import { useMemo } from 'react';
import { stringifyJson } from '../api/exact-json.ts';

/** A line diff of two JSON values, pretty-printed: removed lines red, added lines green. */
export function JsonDiff({
  before,
  after,
  sameMessage = 'The draft is the same as the deployed version.',
}: {
  before: unknown;
  after: unknown;
  sameMessage?: string;
}) {
  const parts = useMemo(
    () => diffLines(`${stringifyJson(before, 2)}\n`, `${stringifyJson(after, 2)}\n`),
    [before, after],
  );
  const changed = parts.some((p) => p.added || p.removed);
  if (!changed) {
    return (
      <Text size="sm" c="dimmed" data-testid="diff-none">
        {sameMessage}
      </Text>
    );
  }
  const lines: { text: string; kind: 'added' | 'removed' | 'same'; key: string }[] = [];
  parts.forEach((part, p) => {
    const kind = part.added ? 'added' : part.removed ? 'removed' : 'same';
    part.value
      .replace(/\n$/, '')
      .split('\n')
      .forEach((text, i) => {
        lines.push({ text, kind, key: `${p}-${i}` });
      });
  });
  return (
    <Box
      component="pre"
      data-testid="schema-diff"
      aria-label="Differences between the deployed schema and the draft"
      fz="xs"
      p="xs"
      m={0}
      style={{ overflowX: 'auto', border: '1px solid var(--mantine-color-gray-3)', borderRadius: 6 }}
    >
      {lines.map((line) => (
        <Box
          key={line.key}
          component="div"
          bg={line.kind === 'added' ? 'green.0' : line.kind === 'removed' ? 'red.0' : undefined}
          // Green.9 on green.0 is 4.1:1; this tone of it 4.9:1 (red.9 on red.0: 5.1:1).
          c={line.kind === 'added' ? '#277c38' : line.kind === 'removed' ? 'red.9' : undefined}
          ff="monospace"
        >
          {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
          {line.text}
        </Box>
      ))}
    </Box>
  );
}
