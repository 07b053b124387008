import { ClickHouseStore } from './src/store/clickhouse/ClickHouseStore.ts';
import { visit, BASE_MS } from './src/store/contract.suite.ts';
import { sql } from './src/store/clickhouse/sql.ts';
const s = await ClickHouseStore.open('clickhouse://default:@127.0.0.1:18123/dbg15b');
let n = 0;
for (let k = 0; k < 8; k++) {
  const batch = Array.from({ length: 200 }, () => { n++; return visit({ openid: `o${Math.floor(Math.random() * 3000)}`, time: BASE_MS + Math.floor(Math.random() * 7) * 86400000 + Math.floor(Math.random() * 86400000), gender: n % 3, eventId: `e${n}` }); });
  const t0 = performance.now();
  await s.append('app', batch);
  console.log('append', (performance.now() - t0).toFixed(0), 'ms');
}
await s.connection.exec(sql`DROP DATABASE dbg15b`);
await s.close();
