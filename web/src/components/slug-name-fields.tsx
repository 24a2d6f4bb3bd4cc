import { Card, Grid, TextInput } from '@mantine/core';
import { MACHINE_TEXT } from './machine-text.ts';

interface SlugNameFieldsProps {
  slug: string;
  name: string;
  onSlug(value: string): void;
  onName(value: string): void;
  /** The slug is fixed once the object exists. */
  slugLocked: boolean;
  slugError?: string | null;
  /** The server's error on the name, if it refused it. */
  nameError?: string | null;
  slugDescription: string;
  nameDescription: string;
  slugPlaceholder: string;
  namePlaceholder: string;
  readOnly?: boolean;
}

/** The slug and name card at the top of the endpoint and app editors. */
export function SlugNameFields(props: SlugNameFieldsProps) {
  return (
    <Card withBorder>
      <Grid>
        <Grid.Col span={{ base: 12, sm: 6 }}>
          <TextInput
            label="Slug"
            {...MACHINE_TEXT}
            description={props.slugDescription}
            placeholder={props.slugPlaceholder}
            value={props.slug}
            onChange={(e) => props.onSlug(e.currentTarget.value.toLowerCase())}
            disabled={props.slugLocked}
            error={props.slugError}
            required
          />
        </Grid.Col>
        <Grid.Col span={{ base: 12, sm: 6 }}>
          <TextInput
            label="Name"
            description={props.nameDescription}
            placeholder={props.namePlaceholder}
            value={props.name}
            onChange={(e) => props.onName(e.currentTarget.value)}
            readOnly={props.readOnly}
            error={props.nameError}
            required
          />
        </Grid.Col>
      </Grid>
    </Card>
  );
}
