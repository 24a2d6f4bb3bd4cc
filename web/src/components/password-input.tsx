import { PasswordInput as MantinePasswordInput, type PasswordInputProps } from '@mantine/core';
import type { Ref } from 'react';

/**
 * Mantine's PasswordInput with its error marking the input invalid (aria-invalid), as Mantine's
 * other inputs do: its own leaves it off, so a screen reader did not say the field was invalid and
 * a form could not find it (firstInvalid) to give it focus. Its error and description are tied to
 * the input (aria-describedby) by Mantine already.
 */
export function PasswordInput({ ref, ...props }: PasswordInputProps & { ref?: Ref<HTMLInputElement> }) {
  const invalid =
    props.error !== undefined && props.error !== null && props.error !== false && props.error !== '';
  return <MantinePasswordInput {...props} ref={ref} aria-invalid={invalid || undefined} />;
}
