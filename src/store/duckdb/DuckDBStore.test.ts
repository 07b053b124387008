import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BASE_DAY, BASE_MS, describeStoreContract, freshAppid, visit } from '../contract.suite.ts';
import { DuckDBStore } from './DuckDBStore.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-duckdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract('DuckDB', () => DuckDBStore.create(join(dir, 'contract.duckdb')));

describe('DuckDB file', () => {
  it('keeps events, derived state and apps across a close and reopen', async () => {
    const path = join(dir, 'reopen.duckdb');
    const appid = freshAppid();
    let s = await DuckDBStore.create(path);
    await s.append(appid, [visit({ openid: 'a', time: BASE_MS + 1000, gender: 1, eventId: 'k' })]);
    await s.createApp({ appid, name: 'x', secretHash: 'h', secretSealed: 's', env: appid, dailyQuota: 1, createdAt: 1 });
    await s.close();
    s = await DuckDBStore.create(path);
    expect(await s.countEvents(appid)).toBe(1);
    expect((await s.getApp(appid))?.name).toBe('x');
    expect(await s.append(appid, [visit({ openid: 'a', time: BASE_MS + 2000, eventId: 'k' })])).toEqual({ accepted: 0, duplicates: [0] });
    const c = await s.portrait(appid, { begin: BASE_DAY, end: BASE_DAY });
    expect(c.find((x) => x.dimension === 'genders')).toMatchObject({ key: 1, active: 1, new: 1 });
    await s.close();
  });
});
