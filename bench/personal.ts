/**
 * P9: deleting a user on the embedded store (issue 17). `Store.deleteUsers` deletes the rows and then writes the
 * DuckDB file afresh, so that the user's bytes are gone from it (src/store/duckdb/compact.ts). Baseline: DuckDB copying
 * the same database into a new file (`COPY FROM DATABASE`), the least a rewrite costs; both while a client appends.
 * P9b: how long appends wait while a deletion runs (they go on during the copy and wait only for its catch-up),
 * against the deletion's time.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { dayOf } from '../src/domain/day.ts';
import { emptyEvent, type VisitEvent } from '../src/domain/event.ts';
import { DuckDBStore } from '../src/store/duckdb/index.ts';
import { type Figure, QUICK, RUNS, log, median, ratioAtMost, round, timed } from './lib.ts';

const EVENTS = QUICK ? 50_000 : 1_000_000;
const USERS = QUICK ? 2_000 : 50_000;
const APPID = 'wxbench0000000000p9';
const DAY_MS = 86_400_000;

function* batches(size: number): Generator<VisitEvent[]> {
  const start = Date.UTC(2026, 9, 1);
  let batch: VisitEvent[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const time = start + (i % 30) * DAY_MS + i;
    batch.push({
      ...emptyEvent(),
      openid: `o${(i * 7919) % USERS}`,
      time,
      day: dayOf(time),
      eventId: `e${i}`,
      gender: i % 3,
      province: 44,
      city: 4401,
      device: `Phone ${i % 50}`,
      session: `s${i % 997}`,
      props: `{"n":${i}}`,
    });
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export async function personalBench(dir: string): Promise<Figure[]> {
  const file = join(dir, 'p9.duckdb');
  const store = await DuckDBStore.create(file);
  const deletions: number[] = [];
  const copies: number[] = [];
  const waits: number[] = [];
  try {
    for (const b of batches(50_000)) await store.append(APPID, b);
    await store.derive();
    log(`P9: ${EVENTS} events of ${USERS} users stored`);
    // Both sides run while a client keeps appending single events (and the store derives them): the longest wait
    // of an append during the deletion is P9b.
    let n = 0;
    const appending = (tag: string) => {
      let stop = false;
      let longest = 0;
      const done = (async () => {
        while (!stop) {
          const t = performance.now();
          const time = Date.UTC(2026, 9, 31);
          await store.append(APPID, [{ ...emptyEvent(), openid: `late-${tag}`, time, day: dayOf(time), eventId: `late-${n++}` }]);
          longest = Math.max(longest, performance.now() - t);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      return async () => {
        stop = true;
        await done;
        return longest;
      };
    };
    for (let run = 0; run < RUNS; run++) {
      // The baseline: the same database copied into a new file by DuckDB itself.
      const conn = await store.connect();
      const copy = join(dir, `copy-${run}.duckdb`);
      const stopBase = appending(`b${run}`);
      const c = await timed(async () => {
        await conn.run(`ATTACH '${copy}' AS bench_copy`);
        await conn.run(`COPY FROM DATABASE p9 TO bench_copy`);
        await conn.run('DETACH bench_copy');
      });
      await stopBase();
      conn.closeSync();
      rmSync(copy, { force: true });
      copies.push(c.ms);
      const stop = appending(`d${run}`);
      const d = await timed(() => store.deleteUsers(APPID, [`o${run * 11 + 1}`]));
      const longest = await stop();
      if (d.result.users !== 1) throw new Error(`P9: expected to delete 1 user, deleted ${d.result.users}`);
      deletions.push(d.ms);
      waits.push(longest);
      log(`P9 run ${run + 1}: deletion ${Math.round(d.ms)} ms (copy alone ${Math.round(c.ms)} ms), longest append ${Math.round(longest)} ms`);
    }
  } finally {
    await store.close();
  }
  const del = median(deletions);
  return [
    ratioAtMost(
      {
        id: 'P9',
        what: `delete a user on DuckDB, bytes gone from the file (${EVENTS.toLocaleString('en')} events)`,
        value: round(del, 1) ?? del,
        baseline: round(median(copies), 1) ?? median(copies),
        unit: 'ms',
        detail: { deletions, copies, baseline: 'DuckDB COPY FROM DATABASE of the same file' },
      },
      1.5,
    ),
    ratioAtMost(
      {
        id: 'P9b',
        what: 'longest wait of an append during a deletion, against the deletion',
        value: round(median(waits), 1) ?? median(waits),
        baseline: round(del, 1) ?? del,
        unit: 'ms',
        detail: { waits },
      },
      0.5,
    ),
  ];
}
