import type { TestServer } from './server.ts';

/**
 * The ways an owner closes an endpoint to writes, each with the data API's refusal, and how to
 * open it again: for tests that check a writer refuses what the data API refuses.
 */
export function endpointClosings(server: () => Pick<TestServer, 'admin'>) {
  const patch = (slug: string, json: unknown) => server().admin('PATCH', `/admin/v1/endpoints/${slug}`, json);
  return [
    {
      state: 'deactivated',
      slug: 'paused',
      code: 'endpoint_inactive',
      close: (slug: string) => patch(slug, { active: false }),
      reopen: (slug: string) => patch(slug, { active: true }),
    },
    {
      state: 'subscription-expired',
      slug: 'lapsed',
      code: 'subscription_expired',
      // The API takes no end in the past: one a moment ahead, then waited out.
      close: async (slug: string) => {
        const expires_at = new Date(Date.now() + 1_000).toISOString();
        const res = await patch(slug, { expires_at });
        await new Promise((resolve) => setTimeout(resolve, Date.parse(expires_at) - Date.now() + 50));
        return res;
      },
      reopen: (slug: string) => patch(slug, { expires_at: null }),
    },
  ];
}
