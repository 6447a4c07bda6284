/*
 * The cost of decoding Parquet under a budget (lambdas/core/profile/parquet-decoder.ts): the
 * profiler's guarded read (row groups decoded in a worker thread, answered in columns, the next
 * decoded while one is profiled) against hyparquet's parquetReadObjects in the same thread,
 * feeding the same profile. Both measured in this run, best of 5 rounds each.
 *
 *   npm run bench:parquet [-- <copies of the 534 CPS rows, default 400>]
 */
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { CPS_COLUMNS, cpsRows } from '../bin/local/sample-data';
import { DatasetProfile } from '../lambdas/core/profile/dataset-profile';
import { profileParquet } from '../lambdas/core/profile/readers';

async function main(): Promise<void> {
  const copies = Number(process.argv[2] ?? 400);
  const rows = Array.from({ length: copies }, () => cpsRows()).flat();
  const numeric = new Set(['wage', 'education', 'experience', 'age', 'union', 'south', 'married']);
  const columnData = CPS_COLUMNS.map((name) => ({ name, data: rows.map((r) => r[name]), type: numeric.has(name) ? (name === 'wage' ? 'DOUBLE' : 'INT32') : 'STRING' }));
  const bytes = parquetWriteBuffer({ columnData, rowGroupSize: 20_000 } as Parameters<typeof parquetWriteBuffer>[0]);
  const file: AsyncBuffer = { byteLength: bytes.byteLength, slice: (s, e) => bytes.slice(s, e) };
  const metadata = await parquetMetadataAsync(file);

  const inThread = async (): Promise<number> => {
    const profile = new DatasetProfile('parquet', {});
    let start = 0;
    for (const g of metadata.row_groups) {
      const end = start + Number(g.num_rows);
      for (const r of await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end })) profile.addRecord(r);
      start = end;
    }
    return profile.summary().rows;
  };
  const guarded = async (): Promise<number> => (await profileParquet(file, { file: 'bench.parquet' })).summary().rows;

  const best = async (run: () => Promise<number>): Promise<number> => {
    let min = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      if ((await run()) !== rows.length) throw new Error('a run profiled the wrong number of rows');
      min = Math.min(min, performance.now() - t);
    }
    return min;
  };
  const a = await best(inThread);
  const b = await best(guarded);
  console.log(`${rows.length} rows, ${metadata.row_groups.length} row groups, ${(bytes.byteLength / 2 ** 20).toFixed(2)} MiB`);
  console.log(`in-thread parquetReadObjects + profile: ${a.toFixed(0)} ms`);
  console.log(`guarded (worker, budget) + profile:     ${b.toFixed(0)} ms`);
  console.log(`ratio guarded / in-thread:              ${(b / a).toFixed(2)}×`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
