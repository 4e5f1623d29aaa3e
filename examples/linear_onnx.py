"""Writes the ONNX model served by examples/server.mjs: y = x @ W + b.

x is float32 [N, 4] (any batch size); W [4, 3] and b [3] are graph INPUTS,
not initializers, so one .onnx serves every version of the weights: each
version's tensors are fed from h5vault views of its verified file (ortFeeds).

    python3 examples/linear_onnx.py model.onnx
"""
import sys

import onnx
from onnx import TensorProto, helper

graph = helper.make_graph(
    [
        helper.make_node('MatMul', ['x', 'W'], ['xw']),
        helper.make_node('Add', ['xw', 'b'], ['y']),
    ],
    'linear',
    [
        helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 4]),
        helper.make_tensor_value_info('W', TensorProto.FLOAT, [4, 3]),
        helper.make_tensor_value_info('b', TensorProto.FLOAT, [3]),
    ],
    [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['N', 3])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='h5vault-example')
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
