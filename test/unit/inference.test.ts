import { describe, expect, it } from 'vitest';
import { parseContract } from '../../lambdas/core/contract-file';
import { InferenceRequestError, parseInferenceRequest, sampled, summarizeScores } from '../../lambdas/core/inference';
import type { ModelSignature } from '../../lambdas/core/model-signature';

const SIGNATURE: ModelSignature = { input: 'features', output: 'score', features: ['education', { column: 'gender', categories: { female: 1, male: 0 } }] };
const LIMITS = { maxRows: 100, maxBodyBytes: 4096 };
const CONTRACT = parseContract('version: 1\ncolumns:\n  education: { type: integer, nullable: false, min: 0, max: 30 }\n  gender: { type: string, allowedValues: [female, male] }\n');

function errorOf(body: string | undefined, options: Parameters<typeof parseInferenceRequest>[3] = {}, limits = LIMITS): InferenceRequestError {
  try {
    parseInferenceRequest(body, SIGNATURE, limits, options);
  } catch (err) {
    if (err instanceof InferenceRequestError) return err;
    throw err;
  }
  throw new Error('expected the request to be refused');
}

describe('parseInferenceRequest', () => {
  it('lays out rows in signature order, categories mapped, other fields ignored', () => {
    // Act
    const r = parseInferenceRequest(JSON.stringify({ rows: [{ gender: 'female', education: 12, wage: 9 }, { education: '16', gender: 'male' }] }), SIGNATURE, LIMITS);
    // Assess
    expect([r.rows, r.width]).toEqual([2, 2]);
    expect(Array.from(r.features)).toEqual([12, 1, 16, 0]);
    expect(r.records()).toEqual([{ education: 12, gender: 'female' }, { education: '16', gender: 'male' }]);
  });

  it('reads numeric text as decimal literals in all their forms', () => {
    const r = parseInferenceRequest(JSON.stringify({ rows: ['12', ' 12 ', '1.2e1', '+12.', '.5e1'].map((education) => ({ education, gender: 'male' })) }), SIGNATURE, LIMITS);
    expect(Array.from(r.features).filter((_, i) => i % 2 === 0)).toEqual([12, 12, 12, 12, 5]);
  });

  it('takes columnar batches too, with the same layout', () => {
    const r = parseInferenceRequest(JSON.stringify({ columns: { education: [12, 16], gender: ['female', 'male'] } }), SIGNATURE, LIMITS);
    expect(Array.from(r.features)).toEqual([12, 1, 16, 0]);
  });

  it.each([
    ['no body', undefined, 400, [{ field: 'body', message: 'expected a JSON object {"rows": [...]} or {"columns": {...}}' }]],
    ['not JSON', '{"rows": [', 400, [{ field: 'body', message: expect.stringMatching(/^not JSON \(/) }]],
    ['NaN literal (not JSON)', '{"rows": [{"education": NaN, "gender": "male"}]}', 400, [{ field: 'body', message: expect.stringMatching(/^not JSON/) }]],
    ['a list at the top', '[1, 2]', 400, [{ field: 'body', message: 'expected a JSON object {"rows": [...]} or {"columns": {...}}, got a list' }]],
    ['both rows and columns', '{"rows": [], "columns": {}}', 400, [{ field: 'body', message: 'expected exactly one of "rows" (a list of objects) or "columns" (an object of lists)' }]],
    ['rows not a list', '{"rows": {"education": 1}}', 400, [{ field: 'rows', message: 'expected a list of row objects, got an object' }]],
    ['no rows', '{"rows": []}', 400, [{ field: 'rows', message: 'expected at least one row' }]],
    ['a row that is not an object', '{"rows": [{"education": 1, "gender": "male"}, 7]}', 400, [{ field: 'rows[1]', message: 'expected an object of column values, got number 7' }]],
    ['a missing feature', '{"rows": [{"education": 12}]}', 400, [{ field: 'rows[0].gender', message: 'missing value' }]],
    ['null for a number', '{"rows": [{"education": null, "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: 'missing value' }]],
    ['wrong type: text', '{"rows": [{"education": "twelve", "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: '"twelve" is not a decimal number' }]],
    ['hexadecimal text (Number() reads 12)', '{"rows": [{"education": "0x0C", "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: '"0x0C" is not a decimal number' }]],
    ['binary text', '{"rows": [{"education": "0b1100", "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: '"0b1100" is not a decimal number' }]],
    ['octal text', '{"rows": [{"education": "0o14", "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: '"0o14" is not a decimal number' }]],
    ['"Infinity" as text', '{"rows": [{"education": "-Infinity", "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: '"-Infinity" is not a finite number' }]],
    ['wrong type: boolean', '{"rows": [{"education": true, "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: 'expected a number, got boolean true' }]],
    ['wrong type: a list', '{"rows": [{"education": [12], "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: 'expected a number, got a list' }]],
    ['"NaN" as text', '{"rows": [{"education": "NaN", "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: '"NaN" is not a finite number' }]],
    ['an overflowing number', '{"rows": [{"education": 1e309, "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: 'Infinity is not a finite number (a number beyond ±1.8e308, such as 1e309, overflows)' }]],
    ['an overflowing decimal text', '{"rows": [{"education": "1e309", "gender": "male"}]}', 400, [{ field: 'rows[0].education', message: '"1e309" is not a finite number' }]],
    ['an unknown category', '{"rows": [{"education": 12, "gender": "x"}]}', 400, [{ field: 'rows[0].gender', message: '"x" is not one of the model\'s categories (female, male)' }]],
    ['columns of different lengths', '{"columns": {"education": [1, 2], "gender": ["male"]}}', 400, [{ field: 'columns.gender', message: "1 values, but 'education' has 2: every column needs one value per row" }]],
    ['a missing column', '{"columns": {"education": [1]}}', 400, [{ field: 'columns.gender', message: 'missing: the model needs this feature' }]],
    ['a bad value in a column', '{"columns": {"education": [1, "x"], "gender": ["male", "male"]}}', 400, [{ field: 'columns.education[1]', message: '"x" is not a decimal number' }]],
  ])('%s -> %i with a message naming the field', (_case, body, status, errors) => {
    const err = errorOf(body);
    expect(err.statusCode).toBe(status);
    expect(err.errors).toEqual(errors);
  });

  it('refuses too many rows (413) and too large a body (413) before reading values', () => {
    const many = JSON.stringify({ rows: Array.from({ length: 101 }, () => ({ education: 1, gender: 'male' })) });
    expect(errorOf(JSON.stringify({ rows: Array.from({ length: 200 }, () => ({ education: 1, gender: 'male' })) }))).toMatchObject({ statusCode: 413, errors: [{ field: 'body', message: '6410 bytes, over the limit of 4096' }] });
    expect(() => parseInferenceRequest(many, SIGNATURE, { maxRows: 100, maxBodyBytes: 1 << 20 })).toThrow(InferenceRequestError);
    const err = errorOf(many, {}, { maxRows: 100, maxBodyBytes: 1 << 20 });
    expect(err).toMatchObject({ statusCode: 413, errors: [{ field: 'rows', message: '101 rows, over the limit of 100 per request' }] });
  });

  it('refuses a body that is not JSON by its content type (415)', () => {
    expect(errorOf('education,gender\n1,male', { contentType: 'text/csv' })).toMatchObject({ statusCode: 415, errors: [{ field: 'content-type' }] });
    expect(parseInferenceRequest('{"rows":[{"education":1,"gender":"male"}]}', SIGNATURE, LIMITS, { contentType: 'application/json; charset=utf-8' }).rows).toBe(1);
  });

  it.each([
    ['below min', { education: -1, gender: 'male' }, 'rows[0].education', "-1 is below the contract's min 0"],
    ['above max', { education: 31, gender: 'male' }, 'rows[0].education', "31 is above the contract's max 30"],
    ['not an integer', { education: 12.5, gender: 'male' }, 'rows[0].education', "12.5 is not a whole number (the contract's type for 'education' is integer)"],
    ['null where the contract forbids it', { education: null, gender: 'male' }, 'rows[0].education', 'missing value (the contract says it is never null)'],
  ])('checks the dataset contract: %s', (_case, row, field, message) => {
    expect(errorOf(JSON.stringify({ rows: [row] }), { contract: CONTRACT }).errors).toEqual([{ field, message }]);
  });

  it('lists every bad field up to 20, then counts the rest', () => {
    const rows = Array.from({ length: 30 }, () => ({ education: 'x', gender: 'male' }));
    const err = errorOf(JSON.stringify({ rows }));
    expect(err.errors).toHaveLength(21);
    expect(err.errors[19]).toEqual({ field: 'rows[19].education', message: '"x" is not a decimal number' });
    expect(err.errors[20]).toEqual({ field: 'body', message: 'and 10 more invalid values' });
    expect(err.message).toMatch(/^rows\[0\]\.education: "x" is not a decimal number; rows\[1\]/);
  });
});

describe('summarizeScores and sampled', () => {
  it('mean and positive rate, by hand; NaN for an empty batch', () => {
    expect(summarizeScores([0.2, 0.6, 0.9, 0.5])).toEqual({ count: 4, mean: 0.55, positiveRate: 0.5 });
    expect(summarizeScores([0.2, 0.6], 0.1)).toMatchObject({ positiveRate: 1 });
    const empty = summarizeScores([]);
    expect(empty.count).toBe(0);
    expect(empty.mean).toBeNaN();
  });

  it('samples the requested share, the same way for the same request id', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `req-${i}`);
    const share = ids.filter((id) => sampled(id, 0.05)).length / ids.length;
    // binomial sd at p=0.05, n=20000 is 0.0015: within 4 sd
    expect(Math.abs(share - 0.05)).toBeLessThan(0.006);
    expect(ids.every((id) => sampled(id, 0.3) === sampled(id, 0.3))).toBe(true);
    expect(ids.some((id) => sampled(id, 0))).toBe(false);
    expect(ids.every((id) => sampled(id, 1))).toBe(true);
  });
});
