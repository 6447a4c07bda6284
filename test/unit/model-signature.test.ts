import { describe, expect, it } from 'vitest';
import { linearModelOnnx, mlpModelOnnx } from '../../bin/local/onnx-builder';
import { DatasetParseError, ModelError } from '../../lambdas/core/errors';
import { checkModelSignature, FeatureEncoder, InvalidModelSignatureError, scoresFromOutput, type ModelSignature } from '../../lambdas/core/model-signature';
import { OnnxModel } from '../../lambdas/shared/onnx-model';

const signature: ModelSignature = { input: 'features', output: 'score', features: ['age', { column: 'gender', categories: { female: 1, male: 0 } }, 'union'] };

describe('checkModelSignature', () => {
  it('accepts a signature and returns it', () => {
    expect(checkModelSignature(signature)).toBe(signature);
  });

  it.each([
    [null, 'signature: expected an object { input, features, output }'],
    [{ ...signature, input: '' }, 'signature.input: expected the name of the model input'],
    [{ ...signature, output: 3 }, 'signature.output: expected the name of the model output'],
    [{ ...signature, features: [] }, 'signature.features: expected a non-empty list of columns'],
    [{ ...signature, features: ['a', { col: 'b' }] }, 'signature.features[1]: expected a column name or { column, categories }'],
    [{ ...signature, features: ['a', 'a'] }, "signature.features[1]: column 'a' is listed twice"],
    [{ ...signature, features: [{ column: 'g', categories: {} }] }, 'signature.features[0].categories: expected a non-empty { value: number } table'],
    [{ ...signature, features: [{ column: 'g', categories: { f: 'one' } }] }, 'signature.features[0].categories.f: expected a finite number'],
    [{ ...signature, outputIndex: -1 }, 'signature.outputIndex: expected a whole number >= 0'],
  ])('rejects a bad signature, naming the field: %#', (bad, message) => {
    expect(() => checkModelSignature(bad)).toThrow(InvalidModelSignatureError);
    expect(() => checkModelSignature(bad)).toThrow(message);
  });
});

describe('FeatureEncoder', () => {
  const encoder = new FeatureEncoder(signature, 's3://b/data.csv');

  it('writes features row-major: numbers, numeric text, booleans and categories', () => {
    const out = new Float32Array(6);
    encoder.encode({ age: '42', gender: 'female', union: true }, 2, out, 0);
    encoder.encode({ age: 30.5, gender: 'male', union: 0 }, 3, out, 1);
    expect(Array.from(out)).toEqual([42, 1, 1, 30.5, 0, 0]);
  });

  it.each([
    [{ age: '', gender: 'male', union: 0 }, "s3://b/data.csv, row 7, column 'age': model feature: missing value"],
    [{ gender: 'male', union: 0 }, "s3://b/data.csv, row 7, column 'age': model feature: missing value"],
    [{ age: 'NaN', gender: 'male', union: 0 }, `s3://b/data.csv, row 7, column 'age': model feature: "NaN" is not a finite number`],
    [{ age: Number.POSITIVE_INFINITY, gender: 'male', union: 0 }, "s3://b/data.csv, row 7, column 'age': model feature: Infinity is not a finite number"],
    [{ age: '4 2', gender: 'male', union: 0 }, `s3://b/data.csv, row 7, column 'age': model feature: "4 2" is not a finite number`],
    [{ age: '0x0C', gender: 'male', union: 0 }, `s3://b/data.csv, row 7, column 'age': model feature: "0x0C" is not a finite number`],
    [{ age: 40, gender: 'other', union: 0 }, "s3://b/data.csv, row 7, column 'gender': model feature: 'other' is not one of the signature's categories (female, male)"],
    [{ age: 40, gender: '', union: 0 }, "s3://b/data.csv, row 7, column 'gender': model feature: missing value"],
  ])('names file, row and column of a value a model cannot take: %#', (record, message) => {
    expect(() => encoder.encode(record, 7, new Float32Array(3), 0)).toThrow(DatasetParseError);
    expect(() => encoder.encode(record, 7, new Float32Array(3), 0)).toThrow(message);
  });
});

describe('scoresFromOutput', () => {
  it.each([
    [[1, 2, 3], [3], undefined, [1, 2, 3]],
    [[1, 2, 3], [3, 1], undefined, [1, 2, 3]],
    [[0.9, 0.1, 0.2, 0.8], [2, 2], undefined, [0.1, 0.8]], // class probabilities: the positive class is column 1
    [[0.9, 0.1, 0.2, 0.8], [2, 2], 0, [0.9, 0.2]],
    [[1, 2, 3, 4, 5, 6], [2, 3], 2, [3, 6]],
  ])('picks the positive score of each row: %#', (data, dims, index, expected) => {
    expect(Array.from(scoresFromOutput(new Float32Array(data), dims, dims[0]!, index))).toEqual(expected.map((v) => Math.fround(v)));
  });

  it('explains a shape that is not one score per row', () => {
    expect(() => scoresFromOutput(new Float32Array(4), [4], 2)).toThrow('model output has shape [4]; expected [2], [2, 1] or [2, k] for a batch of 2');
    expect(() => scoresFromOutput(new Float32Array(8), [2, 2, 2], 2)).toThrow(ModelError);
    expect(() => scoresFromOutput(new Float32Array(2), [2, 1], 2, 1)).toThrow('signature.outputIndex 1 is outside the model output');
  });
});

describe('ONNX models written by linearModelOnnx, run by onnxruntime-node', () => {
  const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

  it('scores sigmoid(x·w + b) for every row of a batch (hand-computed)', async () => {
    const model = await OnnxModel.load(linearModelOnnx({ weights: [0.5, -1, 2], bias: 0.25 }), { input: 'features', output: 'score', features: ['a', 'b', 'c'] });
    const x = new Float32Array([1, 2, 0, 0, 0, 0, 4, 1, -0.5]);
    const scores = await model.score(x, 3, 3);
    expect(scores[0]).toBeCloseTo(sigmoid(0.5 - 2 + 0.25), 6);
    expect(scores[1]).toBeCloseTo(sigmoid(0.25), 6);
    expect(scores[2]).toBeCloseTo(sigmoid(2 - 1 - 1 + 0.25), 6);
    await model.release();
  });

  it('writes a plain linear model when asked (no sigmoid), with custom names', async () => {
    const model = await OnnxModel.load(linearModelOnnx({ weights: [2], bias: -1, sigmoid: false, inputName: 'x', outputName: 'y' }), { input: 'x', output: 'y', features: ['a'] });
    expect(Array.from(await model.score(new Float32Array([0, 1, 10]), 3, 1))).toEqual([-1, 1, 19]);
    await model.release();
  });

  it('refuses a signature the graph does not have, and bytes that are not a model', async () => {
    const bytes = linearModelOnnx({ weights: [1], bias: 0 });
    await expect(OnnxModel.load(bytes, { input: 'x', output: 'score', features: ['a'] })).rejects.toThrow("the model does not match its signature: no input 'x' (the graph has features)");
    await expect(OnnxModel.load(bytes, { input: 'features', output: 'p', features: ['a'] })).rejects.toThrow("no output 'p' (the graph has score)");
    await expect(OnnxModel.load(new TextEncoder().encode('not a model'), { input: 'features', output: 'score', features: ['a'] })).rejects.toThrow(/^onnxruntime cannot load the model: /);
  });
});

describe('ONNX models written by mlpModelOnnx, run by onnxruntime-node', () => {
  it('scores sigmoid(w2·relu(W1·x + b1) + b2) for every row (computed here, ReLU cutting some units)', async () => {
    // Prepare: 3 features → 2 units → 1; row-major [inputs × units]
    const w1 = [1, -1, 0.5, 2, -2, 0.25];
    const b1 = [0.1, -0.3];
    const w2 = [1.5, -0.5];
    const b2 = [0.2];
    const forward = (x: number[], relu = true): number => {
      const h = [0, 1].map((u) => x[0]! * w1[u]! + x[1]! * w1[2 + u]! + x[2]! * w1[4 + u]! + b1[u]!).map((z) => (relu ? Math.max(0, z) : z));
      return 1 / (1 + Math.exp(-(h[0]! * w2[0]! + h[1]! * w2[1]! + b2[0]!)));
    };
    const rows = [[1, 2, 3], [0, 0, 0], [-1, 0.5, 2], [4, -1, 0]];
    const model = await OnnxModel.load(mlpModelOnnx({ inputs: 3, layers: [{ weights: w1, bias: b1 }, { weights: w2, bias: b2 }] }), { input: 'features', output: 'score', features: ['a', 'b', 'c'] });
    // Act
    const scores = await model.score(Float32Array.from(rows.flat()), rows.length, 3);
    // Assess
    rows.forEach((row, i) => expect(scores[i]).toBeCloseTo(forward(row), 6));
    expect(forward(rows[0]!, false)).not.toBeCloseTo(forward(rows[0]!), 3); // the first row's first unit is cut by ReLU (1 + 1 − 6 + 0.1 < 0)
    await model.release();
  });

  it('refuses layers that do not fit together, naming the layer', () => {
    expect(() => mlpModelOnnx({ inputs: 3, layers: [{ weights: [1, 2], bias: [0] }] })).toThrow('mlpModelOnnx: layer 0 has 2 weights; expected 3 inputs × 1 units');
    expect(() => mlpModelOnnx({ inputs: 1, layers: [{ weights: [1, 2], bias: [0, 0] }] })).toThrow('the last layer must have one unit (it has 2)');
    expect(() => mlpModelOnnx({ inputs: 1, layers: [{ weights: [Number.NaN], bias: [0] }] })).toThrow('layer 0 has a weight or bias that is not a finite number');
    expect(() => mlpModelOnnx({ inputs: 1, layers: [] })).toThrow('at least one layer');
  });
});
