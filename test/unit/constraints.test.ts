import { describe, expect, it } from 'vitest';
import { checkContract, InvalidContractError, suggestContract } from '../../lambdas/core/constraints';
import { contractToYaml, parseContract } from '../../lambdas/core/contract-file';
import { profileDelimited } from '../../lambdas/core/profile/readers';

async function* once(text: string): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield Buffer.from(text);
}
const profile = (text: string) => profileDelimited(once(text), { file: 'd.csv' });

const DATA = 'id,wage,gender,note\n1,5.1,female,a\n2,4.95,female,\n3,-1,male,b\n4,Infinity,other,c\n4,7,male,d\n';

describe('parseContract', () => {
  it('reads YAML and JSON alike', () => {
    const yaml = parseContract('version: 1\nrows: { min: 1 }\ncolumns:\n  wage: { type: float, min: 0 }\n');
    const json = parseContract('{"version":1,"rows":{"min":1},"columns":{"wage":{"type":"float","min":0}}}');
    expect(yaml).toEqual(json);
    expect(yaml).toEqual({ version: 1, rows: { min: 1, max: undefined }, columns: { wage: { type: 'float', min: 0 } } });
  });

  it.each([
    ['version: 2\ncolumns: {}', 'c.yaml: version: expected 1'],
    ['version: 1', 'c.yaml: columns: expected an object'],
    ['version: 1\ncolumns:\n  a: { type: text }', 'c.yaml: columns.a.type: expected one of integer, float, boolean, string'],
    ['version: 1\ncolumns:\n  a: { min: "0" }', 'c.yaml: columns.a.min: expected a number'],
    ['version: 1\ncolumns:\n  a: { maxMissingFraction: 2 }', 'c.yaml: columns.a.maxMissingFraction: expected a number >= 0 <= 1'],
    ['version: 1\ncolumns:\n  a: { min: 5, max: 1 }', 'c.yaml: columns.a: min is greater than max'],
    ['version: 1\ncolumns:\n  a: { nullabel: false }', 'c.yaml: columns.a.nullabel: unknown field'],
    ['version: 1\nextraColumns: maybe\ncolumns: {}', "c.yaml: extraColumns: expected 'allow' or 'forbid'"],
    ['version: 1\ncolumns: [', 'c.yaml: not valid JSON or YAML'],
  ])('rejects %j, naming the field', (text, message) => {
    expect(() => parseContract(text, 'c.yaml')).toThrow(InvalidContractError);
    expect(() => parseContract(text, 'c.yaml')).toThrow(message);
  });
});

describe('checkContract', () => {
  it('passes data that keeps the contract', async () => {
    const contract = parseContract('version: 1\nrows: { min: 5, max: 5 }\ncolumns:\n  id: { type: integer, nullable: false }\n  wage: { type: float }\n  gender: { type: string }\n  note: { maxMissingFraction: 0.2 }\n');
    expect(checkContract(contract, await profile(DATA))).toEqual([]);
  });

  it('lists every violation with column, rule, observed value and limit', async () => {
    const contract = parseContract(`version: 1
rows: { min: 10 }
extraColumns: forbid
columns:
  id: { type: integer, unique: true }
  wage: { type: integer, min: 0, max: 6 }
  gender: { allowedValues: [female, male] }
  note: { nullable: false, maxMissingFraction: 0.1 }
  age: { type: integer }
`);
    const violations = checkContract(contract, await profile(DATA));
    expect(violations.map((v) => [v.column, v.rule, v.observed, v.limit])).toEqual([
      [null, 'rows.min', 5, 10],
      ['id', 'unique', 4, 5],
      ['wage', 'type', 'float', 'integer'],
      ['wage', 'min', -1, 0],
      ['wage', 'max', 7, 6],
      ['wage', 'max', 'Infinity', 6],
      ['gender', 'allowedValues', 'other', 'female, male'],
      ['note', 'nullable', 1, 0],
      ['note', 'maxMissingFraction', 0.2, 0.1],
      ['age', 'required', null, null],
    ]);
    expect(violations.map((v) => v.message)).toContain("gender: value(s) outside the allowed set: 'other' (1)");
    expect(violations.map((v) => v.message)).toContain('id: 1 duplicate value(s): 4 distinct among 5');
    expect(violations.map((v) => v.message)).toContain('wage: type is float, expected integer (3 float value(s))');
  });

  it('forbids extra columns when told to', async () => {
    const contract = parseContract('version: 1\nextraColumns: forbid\ncolumns:\n  id: {}\n');
    expect(checkContract(contract, await profile('id,extra\n1,2\n')).map((v) => v.message)).toEqual(['extra: column is not in the contract (extraColumns: forbid)']);
  });

  it('accepts an integer column where float is expected, and an all-missing column of any type', async () => {
    const contract = parseContract('version: 1\ncolumns:\n  a: { type: float }\n  b: { type: integer }\n');
    expect(checkContract(contract, await profile('a,b\n1,\n2,\n'))).toEqual([]);
  });
});

describe('suggestContract', () => {
  it('suggests what the profile shows, as a contract the data keeps', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `${i},${(i * 1.5).toFixed(1)},${i % 2 ? 'male' : 'female'},${i % 10 === 0 ? '' : 'x' + i}`);
    const p = await profile(['id,wage,gender,note', ...rows].join('\n') + '\n');
    const suggested = suggestContract(p);
    expect(suggested.columns).toEqual({
      id: { type: 'integer', nullable: false, min: 0, unique: true },
      wage: { type: 'float', nullable: false, min: 0 },
      gender: { type: 'string', nullable: false, allowedValues: ['female', 'male'] },
      note: { type: 'string', maxMissingFraction: 0.15, unique: true },
    });
    expect(checkContract(suggested, p)).toEqual([]);
    expect(parseContract(contractToYaml(suggested))).toEqual({ ...suggested, rows: { min: 1, max: undefined } });
  });
});
