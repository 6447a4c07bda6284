import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { delimitedSchema, detectFormat, jsonLinesSchema, parquetSchemaFingerprint } from '../../lambdas/core/dataset-format';
import { UnreadableDatasetError } from '../../lambdas/core/errors';
import { sha256Hex } from '../../lambdas/core/lineage';

describe('detectFormat', () => {
  it.each([
    ['data/x/a.csv', undefined, 'csv'],
    ['data/x/A.CSV', 'application/octet-stream', 'csv'],
    ['data/x/a.tsv', undefined, 'tsv'],
    ['data/x/a.jsonl', undefined, 'jsonl'],
    ['data/x/a.ndjson', undefined, 'jsonl'],
    ['data/x/a.parquet', undefined, 'parquet'],
    ['data/x/noext', 'text/csv; charset=utf-8', 'csv'],
    ['data/x/noext', 'application/vnd.apache.parquet', 'parquet'],
    ['data/x/a.xlsx', undefined, undefined],
    ['data/x/noext', undefined, undefined],
  ])('%s (%s) -> %s', (key, contentType, expected) => {
    expect(detectFormat(key, contentType)).toBe(expected);
  });
});

describe('delimitedSchema', () => {
  it('reads the header and fingerprints {format, columns} canonically', () => {
    const s = delimitedSchema('csv', Buffer.from('wage,age\n5.1,35\n'), true);
    expect(s.columns).toEqual([{ name: 'wage', type: 'string' }, { name: 'age', type: 'string' }]);
    // hand-computed: RFC 8785 canonical JSON of {format, columns}, keys sorted
    expect(s.fingerprint).toBe(sha256Hex('{"columns":[{"name":"wage","type":"string"},{"name":"age","type":"string"}],"format":"csv"}'));
  });

  it('handles a BOM, quoted delimiters and CRLF', () => {
    const s = delimitedSchema('csv', Buffer.from('\uFEFF"last, first",age\r\n"Doe, J",3\r\n'), true);
    expect(s.columns.map((c) => c.name)).toEqual(['last, first', 'age']);
  });

  it('reads TSV headers', () => {
    expect(delimitedSchema('tsv', Buffer.from('a\tb\n1\t2\n'), true).columns.map((c) => c.name)).toEqual(['a', 'b']);
  });

  it('accepts a header-only file', () => {
    expect(delimitedSchema('csv', Buffer.from('a,b'), true).columns).toHaveLength(2);
  });

  it('gives the same fingerprint to the same header and a different one to a renamed column', () => {
    const a = delimitedSchema('csv', Buffer.from('x,y\n1,2\n'), true).fingerprint;
    expect(delimitedSchema('csv', Buffer.from('x,y\n3,4\n5,6\n'), true).fingerprint).toBe(a);
    expect(delimitedSchema('csv', Buffer.from('x,z\n1,2\n'), true).fingerprint).not.toBe(a);
  });

  it.each([
    ['duplicate names', 'a,b,a\n1,2,3\n', true, "header row, column 3: duplicate column name 'a' (also column 1)"],
    ['a blank name', 'a,,c\n1,2,3\n', true, 'header row, column 2: blank column name'],
    ['no names', '\n1,2\n', true, 'header row: no column names'],
    ['a header that does not end in the head', 'a,b,c', false, 'header row: no line end in the first 5 bytes'],
    ['an unclosed quote', '"a,b\n', true, 'header row: '],
  ])('rejects %s, naming where', (_n, text, whole, message) => {
    expect(() => delimitedSchema('csv', Buffer.from(text), whole)).toThrow(UnreadableDatasetError);
    expect(() => delimitedSchema('csv', Buffer.from(text), whole)).toThrow(message);
  });
});

describe('jsonLinesSchema', () => {
  it('unions keys over the sampled lines, with the JSON types seen', () => {
    const s = jsonLinesSchema(Buffer.from('{"a":1,"b":"x"}\n\n{"a":null,"c":[1]}\n'), true);
    expect(s.columns).toEqual([
      { name: 'a', type: 'null|number' },
      { name: 'b', type: 'string' },
      { name: 'c', type: 'array' },
    ]);
    expect(s.source).toBe('first 2 line(s)');
  });

  it('ignores a last line cut off by the head', () => {
    const s = jsonLinesSchema(Buffer.from('{"a":1}\n{"a":2,"b'), false);
    expect(s.columns).toEqual([{ name: 'a', type: 'number' }]);
  });

  it.each([
    ['{"a":1}\n{oops}\n', 'line 2: invalid JSON'],
    ['[1,2]\n', 'line 1: expected a JSON object, found an array'],
    ['42\n', 'line 1: expected a JSON object, found number'],
    ['\n\n', 'no JSON records (only blank lines)'],
  ])('rejects %j naming the line', (text, message) => {
    expect(() => jsonLinesSchema(Buffer.from(text), true)).toThrow(message);
  });
});

describe('parquetSchemaFingerprint', () => {
  it('reads leaf columns, types and row count from the footer', () => {
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'wage', data: [5.1, 4.95, 6.67], type: 'DOUBLE' },
        { name: 'gender', data: ['female', 'female', 'male'], type: 'STRING' },
      ],
    });
    const s = parquetSchemaFingerprint(parquetMetadata(buf));
    // hyparquet-writer declares strings with the converted type UTF8 (no logical type); the fingerprint reports what the footer declares
    expect(s.columns).toEqual([{ name: 'wage', type: 'DOUBLE' }, { name: 'gender', type: 'UTF8' }]);
    expect(s.numRows).toBe(3);
    expect(s.format).toBe('parquet');
  });
});
