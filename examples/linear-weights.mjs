// Weights of version k of the example linear model (examples/linear_onnx.py),
// chosen so that outputs identify the version: W[i][j] = k + (i*3 + j)/16 and
// b[j] = 100*k + j. With small integer inputs every product and sum is exact
// in float32, so ORT's output equals expected(k, x) bit for bit.

/** The tensors to publish as version k: { W: [4, 3], b: [3] } float32. */
export function linearWeights(k) {
  const W = new Float32Array(12);
  for (let i = 0; i < 12; i++) W[i] = k + i / 16;
  const b = Float32Array.from([0, 1, 2], (j) => 100 * k + j);
  return { W: { dtype: 'float32', shape: [4, 3], data: W }, b: { dtype: 'float32', shape: [3], data: b } };
}

/** y = x @ W + b for version k, rows of 4 numbers in, rows of 3 out. */
export function expectedOutput(k, x) {
  const { W, b } = linearWeights(k);
  return x.map((row) => [0, 1, 2].map((j) => row.reduce((s, v, i) => s + v * W.data[i * 3 + j], b.data[j])));
}
