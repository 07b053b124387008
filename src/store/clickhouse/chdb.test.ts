/**
 * The single-server store contract on ClickHouse 26.x, in-process through chdb (chdb.ts): the store's SQL, written
 * for 18.16, runs on a current ClickHouse too. chdb is installed by CI only (.ci/run; about 570 MB), so outside CI this
 * file skips itself when chdb is missing and says how to get it; in CI a missing chdb fails.
 */
import { expect, it } from 'vitest';
import { BASE_DAY, BASE_MS, describeStoreContract, freshAppid, visit } from '../contract.suite.ts';
import { canonical, referencePortrait } from '../referencePortrait.ts';
import { describeOnChdb } from './chdb.suite.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';
import { hasGroupingSets } from './portrait.ts';

describeOnChdb('ClickHouse store', 'datacube_chdb', (connection) => {
  it('is a current ClickHouse, answered with the SQL picked by version', async () => {
    const v = await connection.version();
    expect(v.major, v.text).toBeGreaterThanOrEqual(24);
    expect(hasGroupingSets(v)).toBe(true);
  });

  describeStoreContract('chdb single server', (opts) => ClickHouseStore.over(connection, opts));

  it('keeps answering like the oracle after late events, through the version-picked query', async () => {
    const s = await ClickHouseStore.over(connection);
    try {
      const appid = freshAppid();
      const events = [
        visit({ openid: 'a', time: BASE_MS + 5 * 86_400_000, gender: 1, device: 'OPPO R9', province: 44, city: 4401 }),
        visit({ openid: 'a', time: BASE_MS + 2 * 86_400_000, gender: 2 }),
        visit({ openid: 'b', time: BASE_MS + 3 * 86_400_000, platformId: 1, device: 'Apple iPhone 13' }),
      ];
      for (const e of events) await s.append(appid, [e]);
      for (const w of [{ begin: BASE_DAY + 2, end: BASE_DAY + 8 }, { begin: BASE_DAY + 5, end: BASE_DAY + 5 }]) {
        expect(canonical(await s.portrait(appid, w))).toEqual(canonical(referencePortrait(events, w)));
      }
    } finally {
      await s.close();
    }
  });
});
