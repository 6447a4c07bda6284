import { describe, expect, it } from 'vitest';
import { CaptureLineError, parseSageMakerCaptureLine } from '../../lambdas/core/sagemaker-capture';

/*
 * Reading SageMaker's data capture lines: the documented record shape
 * (captureData.endpointInput/endpointOutput with observedContentType, mode,
 * data, encoding; eventMetadata.inferenceTime), each body format the reader
 * accepts, and a clear reason for each line it cannot use.
 */

const FEATURES = ['education', 'sector'];
const TIME = '2026-12-01T10:15:00Z';

type Payload = { observedContentType?: string; data: string; encoding: string } | undefined;
function line(input: Payload, output?: Payload, time: string | null = TIME): string {
  return JSON.stringify({
    captureData: { ...(input ? { endpointInput: { mode: 'INPUT', ...input } } : {}), ...(output ? { endpointOutput: { mode: 'OUTPUT', ...output } } : {}) },
    eventMetadata: { eventId: 'e1', ...(time !== null ? { inferenceTime: time } : {}) },
    eventVersion: '0',
  });
}
const csv = (data: string): Payload => ({ observedContentType: 'text/csv', data, encoding: 'CSV' });
const json = (value: unknown): Payload => ({ observedContentType: 'application/json', data: JSON.stringify(value), encoding: 'JSON' });
const base64 = (contentType: string, text: string): Payload => ({ observedContentType: contentType, data: Buffer.from(text).toString('base64'), encoding: 'BASE64' });

describe('SageMaker capture lines', () => {
  it('CSV in, CSV out: rows in signature order, one score a line, the inference time', () => {
    // Act
    const r = parseSageMakerCaptureLine(line(csv('12,manuf\n16,"prof, tech"\n'), { observedContentType: 'text/csv; charset=utf-8', data: '0.25\n0.75', encoding: 'CSV' }), FEATURES);
    // Assess
    expect(r).toEqual({
      time: Date.UTC(2026, 11, 1, 10, 15),
      rows: [
        { cells: ['12', 'manuf'], prediction: 0.25 },
        { cells: ['16', 'prof, tech'], prediction: 0.75 },
      ],
      unpairedScores: false,
    });
  });

  it("a batch's scores on one line, comma-separated (SageMaker's built-in XGBoost), pair with its rows", () => {
    const r = parseSageMakerCaptureLine(line(csv('12,manuf\n16,prof\n9,sales'), csv('0.1,0.2,0.3')), FEATURES);
    expect(r.rows.map((row) => row.prediction)).toEqual([0.1, 0.2, 0.3]);
    expect(r.unpairedScores).toBe(false);
    // a one-row request answered with two numbers is two classes' probabilities, not a score
    expect(parseSageMakerCaptureLine(line(csv('12,manuf'), csv('0.3,0.7')), FEATURES).unpairedScores).toBe(true);
    // three rows, two numbers: no pairing
    expect(parseSageMakerCaptureLine(line(csv('12,manuf\n16,prof\n9,sales'), csv('0.1,0.2')), FEATURES).unpairedScores).toBe(true);
  });

  it('a CSV first line that is exactly the feature names is a header, not a row', () => {
    expect(parseSageMakerCaptureLine(line(csv('education,sector\n12,manuf')), FEATURES).rows).toEqual([{ cells: ['12', 'manuf'] }]);
  });

  it.each([
    ['SageMaker instances of lists', { instances: [[12, 'manuf'], [16, 'prof']] }],
    ['SageMaker instances of {"features"}', { instances: [{ features: [12, 'manuf'] }, { features: [16, 'prof'] }] }],
    ['instances of objects', { instances: [{ education: 12, sector: 'manuf' }, { sector: 'prof', education: 16 }] }],
    ['OnnxEndpoint rows', { rows: [{ education: 12, sector: 'manuf' }, { education: 16, sector: 'prof' }] }],
    ['OnnxEndpoint columns', { columns: { education: [12, 16], sector: ['manuf', 'prof'] } }],
    ['a list of rows', [[12, 'manuf'], { education: 16, sector: 'prof' }]],
  ])('JSON request: %s', (_name, body) => {
    // Act
    const r = parseSageMakerCaptureLine(line(json(body), json({ predictions: [0.2, [0.4]] })), FEATURES);
    // Assess: by feature name, each with its score
    expect(r.rows.map((row) => ('values' in row ? { education: row.values.education, sector: row.values.sector, p: row.prediction } : row))).toEqual([
      { education: 12, sector: 'manuf', p: 0.2 },
      { education: 16, sector: 'prof', p: 0.4 },
    ]);
  });

  it('one JSON row alone (a list in signature order, or an object) is one row', () => {
    expect(parseSageMakerCaptureLine(line(json([12, 'manuf']), json(0.3)), FEATURES).rows).toEqual([{ values: { education: 12, sector: 'manuf' }, prediction: 0.3 }]);
    expect(parseSageMakerCaptureLine(line(json({ education: 9, sector: 'sales' }), json([{ score: 0.1, predicted_label: 0 }])), FEATURES).rows).toEqual([{ values: { education: 9, sector: 'sales' }, prediction: 0.1 }]);
  });

  it('BASE64 bodies (content types the config does not list) are decoded by their content type: JSON Lines and CSV', () => {
    const r = parseSageMakerCaptureLine(line(base64('application/jsonlines', '{"education": 12, "sector": "manuf"}\n[16, "prof"]\n'), base64('application/jsonlines', '{"score": 0.5}\n0.6\n')), FEATURES);
    expect(r.rows).toEqual([
      { values: { education: 12, sector: 'manuf' }, prediction: 0.5 },
      { values: { education: 16, sector: 'prof' }, prediction: 0.6 },
    ]);
    expect(parseSageMakerCaptureLine(line(base64('text/csv', '12,manuf'), base64('text/csv', '0.9')), FEATURES).rows).toEqual([{ cells: ['12', 'manuf'], prediction: 0.9 }]);
  });

  it('scores that do not pair one to one with the rows: the rows count without scores, and it is said', () => {
    const more = parseSageMakerCaptureLine(line(csv('12,manuf\n16,prof'), csv('0.1')), FEATURES);
    expect(more).toMatchObject({ rows: [{ cells: ['12', 'manuf'] }, { cells: ['16', 'prof'] }], unpairedScores: true });
    expect(more.rows.every((r) => r.prediction === undefined)).toBe(true);
    // two classes' probabilities a line are not one score
    expect(parseSageMakerCaptureLine(line(csv('12,manuf'), csv('0.3,0.7')), FEATURES)).toMatchObject({ rows: [{ cells: ['12', 'manuf'] }], unpairedScores: true });
    expect(parseSageMakerCaptureLine(line(csv('12,manuf'), json({ predictions: ['high'] })), FEATURES).unpairedScores).toBe(true);
    expect(parseSageMakerCaptureLine(line(csv('12,manuf'), { observedContentType: 'application/json', data: '{oops', encoding: 'JSON' }), FEATURES).unpairedScores).toBe(true);
    expect(parseSageMakerCaptureLine(line(csv('12,manuf'), base64('image/png', 'x')), FEATURES).unpairedScores).toBe(true);
    // input-only capture: no scores to pair, nothing to say
    expect(parseSageMakerCaptureLine(line(csv('12,manuf')), FEATURES)).toMatchObject({ rows: [{ cells: ['12', 'manuf'] }], unpairedScores: false });
  });

  it.each([
    ['not JSON', '{"captureData": ', /^the line is not JSON/],
    ['no captureData', JSON.stringify({ eventMetadata: { inferenceTime: TIME } }), /not a SageMaker capture record/],
    ['no inference time', line(csv('12,manuf'), undefined, null), /no valid eventMetadata.inferenceTime/],
    ['a bad inference time', line(csv('12,manuf'), undefined, 'yesterday'), /no valid eventMetadata.inferenceTime/],
    ['output only', line(undefined, csv('0.1')), /no endpointInput/],
    ['an image request', line(base64('image/jpeg', 'xyz')), /the request is 'image\/jpeg', neither CSV nor JSON/],
    ['an unknown encoding', line({ observedContentType: 'text/csv', data: '1,a', encoding: 'GZIP' }), /encoding 'GZIP'/],
    ['a CSV row with too few fields', line(csv('12,manuf\n16')), /request row 2 has 1 fields; the model has 2 features \(education, sector\)/],
    ['a JSON list row of another width', line(json({ instances: [[1, 2, 3]] })), /request row 1 has 3 values; the model has 2 features/],
    ['a row naming no feature', line(json({ instances: [{ age: 30 }] })), /request row 1 names none of the model's features/],
    ['a scalar row', line(json({ instances: [5] })), /request row 1 is number, not a row/],
    ['columns of two lengths', line(json({ columns: { education: [1, 2], sector: ['a'] } })), /"columns" are not lists of one length/],
    ['a JSON Lines line that is not JSON', line(base64('application/x-ndjson', '{"education": 1, "sector": "a"}\nnope')), /request line 2 is not JSON/],
  ])('a line it cannot use says why: %s', (_name, text, reason) => {
    expect(() => parseSageMakerCaptureLine(text, FEATURES)).toThrow(CaptureLineError);
    expect(() => parseSageMakerCaptureLine(text, FEATURES)).toThrow(reason);
  });
});
