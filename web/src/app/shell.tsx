import {
  Alert,
  AppShell,
  Badge,
  Burger,
  Button,
  Group,
  NavLink,
  ScrollArea,
  Text,
  useMantineTheme,
} from '@mantine/core';
import { useDisclosure, useMediaQuery, useWindowEvent } from '@mantine/hooks';
import { type ReactNode, useEffect, useRef } from 'react';
import type { User } from '../api/types.ts';
import { closeErrorsOfOtherPages, closeSuccessToastsOnEscape, notifyError } from '../components/feedback.tsx';
import { AccountPage } from '../pages/account.tsx';
import { AppEditorPage } from '../pages/app-editor.tsx';
import { AppsPage } from '../pages/apps.tsx';
import { AuditPage } from '../pages/audit.tsx';
import { CollaboratorsPage } from '../pages/collaborators.tsx';
import { ConsolePage } from '../pages/console.tsx';
import { DeliveriesPage } from '../pages/deliveries.tsx';
import { EndpointEditorPage } from '../pages/endpoint-editor.tsx';
import { EndpointsPage } from '../pages/endpoints.tsx';
import { KeysPage } from '../pages/keys.tsx';
import { TestPage } from '../pages/test-page.tsx';
import { TokensPage } from '../pages/tokens.tsx';
import { UsagePage } from '../pages/usage.tsx';
import { WebhooksPage } from '../pages/webhooks.tsx';
import { useHeadingFocus } from './heading-focus.ts';
import { href, NEW } from './router.ts';
import { useSession } from './session.tsx';
import classes from './shell.module.css';

interface NavItem {
  path: string;
  label: string;
  ownerOnly: boolean;
}

const NAV: NavItem[] = [
  { path: 'endpoints', label: 'Endpoints', ownerOnly: false },
  { path: 'apps', label: 'App APIs', ownerOnly: true },
  { path: 'keys', label: 'API keys', ownerOnly: false },
  { path: 'test', label: 'Test requests', ownerOnly: false },
  { path: 'console', label: 'Production console', ownerOnly: true },
  { path: 'webhooks', label: 'Webhooks', ownerOnly: true },
  { path: 'deliveries', label: 'Deliveries', ownerOnly: false },
  { path: 'usage', label: 'Usage', ownerOnly: true },
  { path: 'collaborators', label: 'Collaborators', ownerOnly: true },
  { path: 'tokens', label: 'CLI tokens', ownerOnly: false },
  { path: 'audit', label: 'Audit log', ownerOnly: true },
  { path: 'account', label: 'Account', ownerOnly: false },
];

function page(route: string[], user: User): ReactNode {
  const [section = 'endpoints', id] = route;
  switch (section) {
    case 'endpoints':
      return id ? <EndpointEditorPage slug={id === NEW ? null : id} /> : <EndpointsPage />;
    case 'apps':
      return id ? <AppEditorPage slug={id === NEW ? null : id} /> : <AppsPage />;
    case 'keys':
      return <KeysPage />;
    case 'test':
      return <TestPage initialSlug={id} />;
    case 'console':
      return <ConsolePage initialSlug={id} />;
    case 'webhooks':
      return <WebhooksPage initialSlug={id} />;
    case 'deliveries':
      return <DeliveriesPage />;
    case 'usage':
      return <UsagePage />;
    case 'collaborators':
      return <CollaboratorsPage />;
    case 'audit':
      return <AuditPage />;
    case 'tokens':
      return <TokensPage />;
    case 'account':
      return <AccountPage user={user} />;
    default:
      return <EndpointsPage />;
  }
}

export function Shell({ route, user }: { route: string[]; user: User }) {
  const [opened, { toggle, close }] = useDisclosure(false);
  const { signOut, signedInHere } = useSession();
  const section = route[0] ?? 'endpoints';
  const items = NAV.filter((item) => !item.ownerOnly || user.role === 'owner');
  const theme = useMantineTheme();
  // Below the navbar's breakpoint a collapsed navbar is only moved off screen: it must not be
  // reachable with Tab or by a screen reader either.
  const mobile = !useMediaQuery(`(min-width: ${theme.breakpoints.sm})`, undefined, {
    getInitialValueInEffect: false,
  });
  const burger = useRef<HTMLButtonElement>(null);
  const label = NAV.find((item) => item.path === section)?.label ?? 'Endpoints';

  useEffect(() => {
    document.title = `${label} · Gatehouse`;
  }, [label]);
  // An error toast is about the page it was raised on: leaving that page closes it.
  const path = route.join('/');
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the page changes
  useEffect(() => closeErrorsOfOtherPages(), [path]);
  useHeadingFocus(path, signedInHere);
  // Escape closes the opened mobile navigation, back to the burger that opened it.
  useWindowEvent('keydown', (event) => {
    if (event.key === 'Escape' && opened && mobile) {
      close();
      burger.current?.focus();
    }
  });
  // Otherwise it closes the success toasts, unless a dialog or a menu takes it: heard before the
  // dialog's own listener, which removes the dialog before the event would reach the window.
  useWindowEvent(
    'keydown',
    (event) => {
      if (!(opened && mobile)) closeSuccessToastsOnEscape(event);
    },
    { capture: true },
  );
  // An owner-only page opened by a collaborator (a link, a typed URL): said, without its controls.
  const refused = user.role !== 'owner' && NAV.some((item) => item.path === section && item.ownerOnly);

  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      {/* The first thing Tab reaches: a link, as skip links are, but the hash is the router's. */}
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link; following #main would change the route */}
      <a
        href="#main"
        className={classes.skipLink}
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              ref={burger}
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
              aria-expanded={opened}
              aria-controls="main-navigation"
            />
            <Text fz="h3" fw={700} c="indigo.7">
              Gatehouse
            </Text>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Group gap={6} visibleFrom="xs" wrap="nowrap" data-testid="current-user">
              <Text size="sm" truncate maw={220}>
                {user.email}
              </Text>
              <Badge variant="light" color={user.role === 'owner' ? 'indigo' : 'gray'}>
                {user.role}
              </Badge>
            </Group>
            <Button
              variant="default"
              size="xs"
              onClick={() => {
                signOut().catch((error: unknown) => notifyError(error, 'Could not sign out'));
              }}
            >
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" id="main-navigation" aria-label="Main navigation" inert={mobile && !opened}>
        <AppShell.Section grow component={ScrollArea}>
          {items.map((item) => (
            <NavLink
              key={item.path}
              href={href(item.path)}
              label={item.label}
              active={section === item.path}
              aria-current={section === item.path ? 'page' : undefined}
              onClick={close}
            />
          ))}
          <NavLink href="/docs" target="_blank" rel="noopener" label="API reference ↗" />
        </AppShell.Section>
        <AppShell.Section hiddenFrom="xs" p="xs">
          <Text size="xs" c="dimmed">
            Signed in as {user.email} ({user.role})
          </Text>
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        {refused ? (
          <Alert color="orange" title="Not allowed" role="alert" data-testid="error-state">
            Only the owner may see this page.
          </Alert>
        ) : (
          page(route, user)
        )}
      </AppShell.Main>
    </AppShell>
  );
}
