import {
  ActionIcon,
  Box,
  Button,
  Checkbox,
  Group,
  Paper,
  Select,
  Stack,
  Text,
  TextInput,
} from '@mantine/core';
import { useEffect, useId, useRef } from 'react';
import { MACHINE_TEXT } from '../components/machine-text.ts';
import {
  boundKeywords,
  boundProblem,
  duplicateNames,
  enumProblem,
  FIELD_TYPES,
  type Field,
  type FieldType,
  type ItemType,
  newField,
  STRING_FORMATS,
} from '../schema/fields.ts';

const TYPE_OPTIONS = FIELD_TYPES.map((t) => ({ value: t, label: t }));
const ITEM_OPTIONS = FIELD_TYPES.filter((t) => t !== 'array').map((t) => ({ value: t, label: t }));

/** The formats offered, and a format the schema holds that is not among them (as it is). */
function formatOptions(current: string): string[] {
  return current === '' || (STRING_FORMATS as readonly string[]).includes(current)
    ? [...STRING_FORMATS]
    : [current, ...STRING_FORMATS];
}

const BOUND_LABELS: Record<string, [string, string]> = {
  minLength: ['Min length', 'Max length'],
  minimum: ['Minimum', 'Maximum'],
  minItems: ['Min items', 'Max items'],
};

/**
 * Where a field sits, so that nested fields read apart from top-level ones: `number` is its
 * outline number ("3", or "3.1" for the first property of field 3) and `path` its dotted name
 * ("items.sku"), as the save-blocked message names fields.
 */
function place(parent: { number: string; path: string } | null, index: number, name: string) {
  const own = name.trim() || 'unnamed field';
  return parent === null
    ? { number: String(index + 1), path: own }
    : { number: `${parent.number}.${index + 1}`, path: `${parent.path}.${own}` };
}

function FieldRow({
  field,
  number,
  path,
  depth,
  duplicate,
  nameRef,
  onChange,
  onRemove,
}: {
  field: Field;
  /** Its outline number: "2" at the top level, "2.1" for the first field nested in field 2. */
  number: string;
  /** Its dotted name from the top level ("items.sku"). */
  path: string;
  depth: number;
  /** Another field of the same object has this name. */
  duplicate: boolean;
  nameRef: (element: HTMLInputElement | null) => void;
  onChange: (next: Field) => void;
  onRemove: () => void;
}) {
  const set = (patch: Partial<Field>) => onChange({ ...field, ...patch });
  const bounds = boundKeywords(field.type);
  const labels = bounds ? BOUND_LABELS[bounds[0]] : undefined;
  // A length or count takes digits only; a minimum or maximum may be negative or a fraction, which
  // a phone's number pad (iOS: no minus, no point) cannot type: the full keyboard, as typed.
  const boundInput = bounds?.[0] === 'minimum' ? MACHINE_TEXT : { inputMode: 'numeric' as const };
  const hasChildren = field.type === 'object' || (field.type === 'array' && field.itemType === 'object');
  const canEnum = field.type === 'string' || field.type === 'integer' || field.type === 'number';
  // A format goes on a string, or on the items of an array of strings.
  const canFormat = field.type === 'string' || (field.type === 'array' && field.itemType === 'string');
  const captionId = useId();
  const parent = { number, path };

  return (
    <Paper
      withBorder
      p="sm"
      radius="sm"
      data-testid="field-row"
      bg={depth > 0 ? 'gray.0' : undefined}
      role="group"
      aria-labelledby={captionId}
    >
      <Stack gap="xs">
        {/* The group's name, shown too: a nested field's "Field name" reads apart from a top-level
            one's by its number and path. Hidden from screen readers, which hear it as the name. */}
        <Text id={captionId} size="xs" c="dimmed" fw={500} aria-hidden data-testid="field-caption">
          Field {number}: {path}
        </Text>
        <Group align="flex-end" gap="xs" wrap="wrap">
          <TextInput
            ref={nameRef}
            label="Field name"
            {...MACHINE_TEXT}
            placeholder="order_id"
            value={field.name}
            onChange={(e) => set({ name: e.currentTarget.value })}
            style={{ flex: '2 1 140px' }}
            error={
              field.name !== '' && !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(field.name)
                ? 'Letters, digits, _ and -'
                : duplicate
                  ? 'Another field has this name'
                  : undefined
            }
          />
          <Select
            label="Type"
            data={TYPE_OPTIONS}
            value={field.type}
            allowDeselect={false}
            onChange={(value) =>
              value && set({ type: value as FieldType, min: '', max: '', enumText: '', format: '' })
            }
            style={{ flex: '1 1 110px' }}
          />
          {field.type === 'array' && (
            <Select
              label="Item type"
              data={ITEM_OPTIONS}
              value={field.itemType}
              allowDeselect={false}
              onChange={(value) => value && set({ itemType: value as ItemType, format: '' })}
              style={{ flex: '1 1 110px' }}
            />
          )}
          <Checkbox
            label="Required"
            checked={field.required}
            onChange={(e) => set({ required: e.currentTarget.checked })}
            mb={8}
          />
          <ActionIcon
            variant="subtle"
            color="red"
            aria-label={`Remove field ${path}`}
            onClick={onRemove}
            mb={4}
            size="lg"
          >
            ✕
          </ActionIcon>
        </Group>
        {(canEnum || labels || canFormat) && (
          <Group gap="xs" wrap="wrap" align="flex-end">
            {canFormat && (
              <Select
                label={field.type === 'array' ? 'Item format' : 'Format'}
                placeholder="Any text"
                data={formatOptions(field.format)}
                value={field.format === '' ? null : field.format}
                clearable
                searchable
                onChange={(value) => set({ format: value ?? '' })}
                style={{ flex: '1 1 140px' }}
              />
            )}
            {canEnum && (
              <TextInput
                label="Allowed values"
                {...MACHINE_TEXT}
                placeholder="comma, separated"
                value={field.enumText}
                onChange={(e) => set({ enumText: e.currentTarget.value })}
                style={{ flex: '2 1 160px' }}
                error={enumProblem(field)}
              />
            )}
            {labels && (
              <>
                <TextInput
                  label={labels[0]}
                  {...boundInput}
                  value={field.min}
                  onChange={(e) => set({ min: e.currentTarget.value })}
                  style={{ flex: '1 1 90px' }}
                  error={boundProblem(field.min)}
                />
                <TextInput
                  label={labels[1]}
                  {...boundInput}
                  value={field.max}
                  onChange={(e) => set({ max: e.currentTarget.value })}
                  style={{ flex: '1 1 90px' }}
                  error={boundProblem(field.max)}
                />
              </>
            )}
          </Group>
        )}
        {hasChildren && (
          <Box pl="md" style={{ borderLeft: '3px solid var(--mantine-color-indigo-2)' }}>
            <Text size="xs" c="dimmed" mb={4}>
              {field.type === 'object' ? `Properties of ${path}` : `Properties of each ${path} item`}
            </Text>
            <FieldList
              fields={field.children}
              parent={parent}
              depth={depth + 1}
              onChange={(children) => set({ children })}
              addLabel={`Add nested field to ${path}`}
            />
          </Box>
        )}
      </Stack>
    </Paper>
  );
}

export function FieldList({
  fields,
  parent = null,
  depth = 0,
  onChange,
  addLabel = 'Add field',
}: {
  fields: Field[];
  /** The object field these are the properties of; null at the top level. */
  parent?: { number: string; path: string } | null;
  depth?: number;
  onChange: (fields: Field[]) => void;
  addLabel?: string;
}) {
  const duplicates = duplicateNames(fields);
  // Each row's name input by field, and where focus goes once the list has changed: a new row's
  // name, the name of the row after a removed one, or (none after it) the Add button.
  const names = useRef(new Map<string, HTMLInputElement>());
  const addButton = useRef<HTMLButtonElement>(null);
  const focusAfter = useRef<string | 'add' | null>(null);
  useEffect(() => {
    const target = focusAfter.current;
    if (target === null) return;
    focusAfter.current = null;
    (target === 'add' ? addButton.current : names.current.get(target))?.focus();
  });

  function add() {
    const field = newField();
    focusAfter.current = field.uid;
    onChange([...fields, field]);
  }

  function remove(index: number) {
    focusAfter.current = fields[index + 1]?.uid ?? 'add';
    onChange(fields.filter((_, i) => i !== index));
  }

  return (
    <Stack gap="xs">
      {fields.map((field, index) => (
        <FieldRow
          key={field.uid}
          field={field}
          {...place(parent, index, field.name)}
          depth={depth}
          duplicate={duplicates.has(field.name.trim())}
          nameRef={(element) => {
            if (element) names.current.set(field.uid, element);
            else names.current.delete(field.uid);
          }}
          onChange={(next) => onChange(fields.map((f, i) => (i === index ? next : f)))}
          onRemove={() => remove(index)}
        />
      ))}
      <Group>
        <Button ref={addButton} variant="light" size="xs" onClick={add}>
          {addLabel}
        </Button>
      </Group>
    </Stack>
  );
}
