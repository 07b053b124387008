/**
 * Retries: a batch sent again — after its answer was lost, or many times at once by an impatient client — is
 * stored once. (Sequential resends: src/api/api.test.ts "accepts NDJSON…"; resends across crashes: crash.test.ts;
 * resends under load: soak.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/api/testing.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { dayOf, startOfDay } from '../../src/domain/day.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from '../../src/store/clickhouse/testing.ts';

const NOW = Date.now();
const DAY = dayOf(NOW) - 1;

describe('retries (DuckDB)', () => retries(() => undefined));

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', 'retries (ClickHouse)', (base) => {
  const url = freshDatabaseUrl(base);
  afterAll(() => dropDatabase(url));
  retries(() => url);
});

function retries(store: () => string | undefined): void {
  let t: TestServer;
  beforeAll(async () => {
    const s = store();
    t = await startTestServer({ clock: new ManualClock(NOW), ...(s ? { config: { store: s } } : {}) });
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('stores a batch sent 8 times at once (as JSON and as NDJSON) exactly once', async () => {
    const a = await t.newApp();
    const tok = await t.token(a.appid, a.secret);
    const batch = Array.from({ length: 500 }, (_, i) => ({ event_id: `r-${i}`, openid: `u${i % 50}`, time: startOfDay(DAY) + i * 1000 }));
    const ndjson = batch.map((e) => JSON.stringify(e)).join('\n');
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? t.post(`/v1/events?access_token=${tok}`, batch)
          : t.post(`/v1/events?access_token=${tok}`, ndjson, { 'content-type': 'application/x-ndjson' }),
      ),
    );
    for (const r of answers) {
      expect(r.json.errcode).toBe(0);
      expect(Number(r.json.accepted) + Number(r.json.duplicates)).toBe(batch.length);
    }
    expect(answers.reduce((s, r) => s + Number(r.json.accepted), 0)).toBe(batch.length);
    expect(await t.services.store.countEvents(a.appid)).toBe(batch.length);
  });
}
