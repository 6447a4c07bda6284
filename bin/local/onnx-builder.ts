import protobuf from 'protobufjs';

/*
 * Writes small ONNX models without Python: a subset of onnx.proto (field
 * numbers from onnx/onnx.proto, IR version 8, opset 13) encoded with
 * protobufjs. Enough for the linear and logistic models the local run trains
 * and the tests score; onnxruntime-node loads what it writes.
 */

const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: { packed: true } },
            name: { type: 'string', id: 8 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: {
          fields: { tensorType: { type: 'Tensor', id: 1 } },
          nested: { Tensor: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } } },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
          nested: { Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } } },
        },
      },
    },
  },
};

const FLOAT = 1;
const ModelProto = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');

export interface LinearModelSpec {
  /** One weight per feature. */
  readonly weights: readonly number[];
  readonly bias: number;
  /** Apply the logistic function (a logistic regression's probability). @default true */
  readonly sigmoid?: boolean;
  /** @default 'features' */
  readonly inputName?: string;
  /** @default 'score' */
  readonly outputName?: string;
  readonly docString?: string;
}

function floatInput(name: string, dims: (number | string)[]): object {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

/** A graph as an ONNX model file (IR version 8, opset 13, produced by cdk-mlops). */
function encodeModel(docString: string | undefined, graph: object): Uint8Array {
  const model = ModelProto.fromObject({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'cdk-mlops', producerVersion: '0.1.0', docString: docString ?? '', graph });
  return ModelProto.encode(model).finish();
}

/**
 * A linear model as ONNX: score = sigmoid(features · weights + bias), features a
 * float tensor [batch, n], score [batch, 1]. MatMul, Add, Sigmoid (opset 13).
 */
export function linearModelOnnx(spec: LinearModelSpec): Uint8Array {
  const n = spec.weights.length;
  if (n === 0 || !spec.weights.every(Number.isFinite) || !Number.isFinite(spec.bias)) throw new Error('linearModelOnnx: weights (non-empty) and bias must be finite numbers');
  const input = spec.inputName ?? 'features';
  const output = spec.outputName ?? 'score';
  const sigmoid = spec.sigmoid ?? true;
  const nodes = [
    { opType: 'MatMul', input: [input, 'weights'], output: ['linear'], name: 'matmul' },
    { opType: 'Add', input: ['linear', 'bias'], output: [sigmoid ? 'logit' : output], name: 'add' },
    ...(sigmoid ? [{ opType: 'Sigmoid', input: ['logit'], output: [output], name: 'sigmoid' }] : []),
  ];
  return encodeModel(spec.docString, {
    name: 'linear',
    node: nodes,
    initializer: [
      { name: 'weights', dataType: FLOAT, dims: [n, 1], floatData: [...spec.weights] },
      { name: 'bias', dataType: FLOAT, dims: [1], floatData: [spec.bias] },
    ],
    input: [floatInput(input, ['batch', n])],
    output: [floatInput(output, ['batch', 1])],
  });
}

/** One dense layer: `weights` row-major [inputs × units], `bias` one per unit. */
export interface DenseLayer {
  readonly weights: ArrayLike<number>;
  readonly bias: ArrayLike<number>;
}

export interface MlpModelSpec {
  /** Features per row. */
  readonly inputs: number;
  /** The layers in order: ReLU after every one but the last; the last has one unit, then the logistic function. */
  readonly layers: readonly DenseLayer[];
  /** @default 'features' */
  readonly inputName?: string;
  /** @default 'score' */
  readonly outputName?: string;
  readonly docString?: string;
}

/**
 * A multilayer perceptron as ONNX: score = sigmoid(W_k·…relu(W_1·x + b_1)… + b_k),
 * features [batch, inputs], score [batch, 1]. MatMul, Add, Relu, Sigmoid (opset 13).
 * For heavier models than the linear one (the endpoint bench's).
 */
export function mlpModelOnnx(spec: MlpModelSpec): Uint8Array {
  const input = spec.inputName ?? 'features';
  const output = spec.outputName ?? 'score';
  if (spec.layers.length === 0) throw new Error('mlpModelOnnx: at least one layer');
  const nodes: object[] = [];
  const initializer: object[] = [];
  let width = spec.inputs;
  let previous = input;
  spec.layers.forEach((layer, i) => {
    const units = layer.bias.length;
    if (units === 0 || layer.weights.length !== width * units) throw new Error(`mlpModelOnnx: layer ${i} has ${layer.weights.length} weights; expected ${width} inputs × ${units} units`);
    if (!Array.from(layer.weights).every(Number.isFinite) || !Array.from(layer.bias).every(Number.isFinite)) throw new Error(`mlpModelOnnx: layer ${i} has a weight or bias that is not a finite number`);
    const last = i === spec.layers.length - 1;
    if (last && units !== 1) throw new Error(`mlpModelOnnx: the last layer must have one unit (it has ${units})`);
    initializer.push({ name: `w${i}`, dataType: FLOAT, dims: [width, units], floatData: Array.from(layer.weights) }, { name: `b${i}`, dataType: FLOAT, dims: [units], floatData: Array.from(layer.bias) });
    nodes.push({ opType: 'MatMul', input: [previous, `w${i}`], output: [`m${i}`], name: `matmul${i}` }, { opType: 'Add', input: [`m${i}`, `b${i}`], output: [`z${i}`], name: `add${i}` });
    nodes.push(last ? { opType: 'Sigmoid', input: [`z${i}`], output: [output], name: 'sigmoid' } : { opType: 'Relu', input: [`z${i}`], output: [`h${i}`], name: `relu${i}` });
    previous = `h${i}`;
    width = units;
  });
  return encodeModel(spec.docString, { name: 'mlp', node: nodes, initializer, input: [floatInput(input, ['batch', spec.inputs])], output: [floatInput(output, ['batch', 1])] });
}
