import { createTheme, MantineProvider } from '@mantine/core';
import { ModalsProvider } from '@mantine/modals';
import { Notifications } from '@mantine/notifications';
import { LoadingState } from '../components/feedback.tsx';
import { InvitePage } from '../pages/invite.tsx';
import { SignInPage } from '../pages/sign-in.tsx';
import { useRoute } from './router.ts';
import { SessionProvider, useSession } from './session.tsx';
import { Shell } from './shell.tsx';

const theme = createTheme({
  primaryColor: 'indigo',
  defaultRadius: 'md',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
});

function Gate() {
  const { user } = useSession();
  const route = useRoute();
  if (route[0] === 'invite' && route[1]) return <InvitePage token={route[1]} />;
  if (user === undefined) return <LoadingState label="Checking your session…" />;
  if (user === null) return <SignInPage />;
  return <Shell route={route} user={user} />;
}

export function App() {
  return (
    <MantineProvider theme={theme} defaultColorScheme="light">
      <Notifications position="bottom-right" />
      <ModalsProvider>
        <SessionProvider>
          <Gate />
        </SessionProvider>
      </ModalsProvider>
    </MantineProvider>
  );
}
