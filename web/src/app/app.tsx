import {
  Badge,
  type CSSVariablesResolver,
  createTheme,
  Drawer,
  MantineProvider,
  Modal,
  MultiSelect,
  Notification,
  NumberInput,
  Select,
} from '@mantine/core';
import { ModalsProvider } from '@mantine/modals';
import { Notifications } from '@mantine/notifications';
import { LoadingState } from '../components/feedback.tsx';
import { InvitePage } from '../pages/invite.tsx';
import { SessionEndedDialog, SignInPage } from '../pages/sign-in.tsx';
import dialog from './dialog.module.css';
import numberInput from './number-input.module.css';
import { useRoute } from './router.ts';
import { SessionProvider, useSession } from './session.tsx';
import { Shell } from './shell.tsx';

/** The × of dialogs, drawers and toasts is an icon: it needs a name for screen readers. */
const closeButtonProps = { 'aria-label': 'Close' };

const theme = createTheme({
  primaryColor: 'indigo',
  // Filled buttons and badges in shade 8: white on indigo.8 is 5.7:1 (on indigo.6, 4.3:1).
  primaryShade: 8,
  // Filled colours light enough (teal.8, green.8, orange.8, cyan.8: white on them is under 4.5:1)
  // get black text; red.8 and darker keep white (4.5:1 or more).
  autoContrast: true,
  luminanceThreshold: 0.19,
  defaultRadius: 'md',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
  components: {
    // A badge's label ellipsizes: in a table on a phone its column shrank to "ACTI…", "TOKE…".
    // Badges hold short words (a status, an action), so each keeps its width and the table scrolls.
    Badge: Badge.extend({ styles: { root: { minWidth: 'max-content' } } }),
    // A title or text naming something without spaces ("Roll <a 200-character key name>?", the
    // name above a new key's secret) wraps inside the dialog instead of running out of it, cut off
    // on a phone; so does a block of code in it (dialog.module.css).
    Modal: Modal.extend({
      defaultProps: { closeButtonProps },
      classNames: { body: dialog.body },
      styles: { title: { overflowWrap: 'anywhere' }, body: { overflowWrap: 'anywhere' } },
    }),
    Drawer: Drawer.extend({
      defaultProps: { closeButtonProps },
      classNames: { body: dialog.body },
      styles: { title: { overflowWrap: 'anywhere' }, body: { overflowWrap: 'anywhere' } },
    }),
    // An option of a select (an endpoint's 200-character name) wraps instead of being cut off at
    // the dropdown's edge, on a phone its end and its slug out of sight.
    Select: Select.extend({ styles: { option: { overflowWrap: 'anywhere' } } }),
    MultiSelect: MultiSelect.extend({ styles: { option: { overflowWrap: 'anywhere' } } }),
    // Its up and down arrows were 24x17px on a phone: side by side there, 24px wide and full height.
    NumberInput: NumberInput.extend({
      classNames: { root: numberInput.root, controls: numberInput.controls, control: numberInput.control },
    }),
    // A toast's text under its title is gray.6 in Mantine's CSS, not the dimmed colour.
    // The toasts' box (pointer-events: none on <Notifications>) lets clicks through to the page
    // between two toasts; each toast takes its own.
    Notification: Notification.extend({
      defaultProps: { closeButtonProps },
      styles: { root: { pointerEvents: 'auto' }, description: { color: 'var(--mantine-color-dimmed)' } },
    }),
  },
});

/**
 * Text of light badges, alerts and buttons (`variant="light"`) on their tinted background: Mantine
 * uses shade 6, 1.8:1 (yellow) to 3.8:1 (indigo). Shade 9 where that makes 4.5:1, a darker tone of
 * it where even shade 9 does not (teal, green, lime, yellow, orange); gray.7 is 7.4:1.
 */
const LIGHT_TEXT: Record<string, string> = {
  gray: 'var(--mantine-color-gray-7)',
  red: 'var(--mantine-color-red-9)',
  pink: 'var(--mantine-color-pink-9)',
  grape: 'var(--mantine-color-grape-9)',
  violet: 'var(--mantine-color-violet-9)',
  indigo: 'var(--mantine-color-indigo-9)',
  blue: 'var(--mantine-color-blue-9)',
  cyan: 'var(--mantine-color-cyan-9)',
  teal: '#087956',
  green: '#277c38',
  lime: '#4a760a',
  yellow: '#ad5900',
  orange: '#b83d0d',
};

/** Dimmed text and placeholders in gray.7 (8:1 on white): gray.6 and gray.5 are 3.3:1 and 2.1:1. */
const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': 'var(--mantine-color-gray-7)',
    '--mantine-color-placeholder': 'var(--mantine-color-gray-7)',
    ...Object.fromEntries(
      Object.entries(LIGHT_TEXT).map(([color, text]) => [`--mantine-color-${color}-light-color`, text]),
    ),
  },
  dark: {},
});

function Gate() {
  const { user, resumable } = useSession();
  const route = useRoute();
  if (route[0] === 'invite' && route[1]) return <InvitePage token={route[1]} />;
  if (user === undefined) return <LoadingState label="Checking your session…" />;
  // A session that ended on the server keeps the page (and its unsaved edits) under a sign-in
  // dialog; the same element tree either way, so signing in again keeps the page's state.
  const shown = user ?? resumable;
  if (shown === null) return <SignInPage />;
  return (
    <>
      <Shell key={shown.id} route={route} user={shown} />
      {user === null && <SessionEndedDialog email={shown.email} />}
    </>
  );
}

export function App() {
  return (
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver} defaultColorScheme="light">
      <Notifications position="bottom-right" style={{ pointerEvents: 'none' }} />
      <ModalsProvider>
        <SessionProvider>
          <Gate />
        </SessionProvider>
      </ModalsProvider>
    </MantineProvider>
  );
}
