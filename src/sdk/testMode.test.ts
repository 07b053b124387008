import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_APIS } from '../api/openApis.ts';
import { startTestServer, type TestServer } from '../api/testing.ts';
import { parseInstant, TestMode } from '../testmode/index.ts';
import { type FetchLike, WeChatClient } from './index.ts';

// The SDK against the real server in test mode (`serve --test-mode`: a frozen clock, fault rules), as a client's
// test suite uses it: every injected 40001 must be survived by the one retry, however often a suite injects it.

describe('the SDK against a test-mode server', () => {
  const tm = new TestMode({ clockMs: parseInstant('2026-06-15T10:00:00+08:00'), apis: OPEN_APIS });
  let t: TestServer;
  let app: { appid: string; secret: string };

  beforeAll(async () => {
    t = await startTestServer({ clock: tm.clock, server: { testMode: tm } });
    app = await t.newApp();
  });
  afterAll(async () => {
    await t.stop(true);
  });

  const addFault = async (rule: Record<string, unknown>) => {
    const r = await fetch(`${t.url}/__datacube/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
    expect(r.status).toBe(200);
  };

  it('retries each injected 40001 once with a good token, even when the frozen clock refuses another forced refresh (45009)', async () => {
    const urls: string[] = [];
    const counting: FetchLike = (url, init) => {
      urls.push(`${url.split('?')[0] ?? ''} ${init.body?.includes('"force_refresh":true') ? 'forced' : ''}`.trim());
      return fetch(url, init);
    };
    const client = new WeChatClient({ ...app, baseUrl: t.url, clock: tm.clock, fetch: counting });
    await client.analysis.getUserPortrait(client.windows.yesterday());

    for (let round = 0; round < 3; round++) {
      await addFault({ route: 'getUserPortrait', errcode: 40001, times: 1 });
      const p = await client.analysis.getUserPortrait(client.windows.yesterday());
      expect(p.errCode, `round ${round}`).toBe(0);
    }
    const faults = (await (await fetch(`${t.url}/__datacube/faults`)).json()) as { fired: number }[];
    expect(faults.map((f) => f.fired)).toEqual([1, 1, 1]);
    // Every call was retried exactly once: 1 + 3 × 2 portrait requests.
    expect(urls.filter((u) => u.endsWith('/datacube/getweanalysisappiduserportrait'))).toHaveLength(7);
    // The first forced refresh was granted; the others, at the same frozen instant, were refused and not needed.
    expect(urls.filter((u) => u.endsWith('forced')).length).toBeGreaterThanOrEqual(1);
  });
});
