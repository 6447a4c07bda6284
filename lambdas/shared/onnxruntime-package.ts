/*
 * onnxruntime-node as a Lambda asset ships it (lib/private/onnx-runtime.ts): this
 * file is the entry of one esbuild bundle of the package's JavaScript and
 * onnxruntime-common, written over the package's `dist/index.js`; only the native
 * binaries stay files. Resolving and loading the package's two dozen CommonJS
 * files was 10–16 ms of every cold start (bench/README.md).
 *
 * Its API is the package's, plus `initOrt` (dist/binding.js, internal): it creates
 * the native environment, which the first session would otherwise create
 * (onnx-model.ts calls it early). The package as installed (what tests of the sources load)
 * has no such export: onnx-model.ts then imports it from dist/binding.js.
 */
export * from 'onnxruntime-node';
export { initOrt } from 'onnxruntime-node/dist/binding.js';
