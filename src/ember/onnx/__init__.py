"""ONNX export of feed-forward and convolutional models, for onnxruntime and every ONNX consumer.

``export(model, example_input, path)`` runs the model once on the example with the op graph
recorded, then converts each recorded op with the converter of its op class (``export.py`` walks
the graph, ``converters.py`` holds one converter per op class). Parameters become initializers
under their state-dict names (``layer1.0.conv1.weight``); the example's batch size stays symbolic.

Exported in evaluation mode (Dropout drops out, BatchNorm uses its running statistics); the
model's own train/eval flags are restored afterwards. Any module whose forward runs these ops
exports, residual additions and the zoo's LeNet5 and ResNet included: linear (``Linear``),
2-D (and, through reshapes, 1-D) convolution with any padding, padding_mode, stride, dilation and
groups, padding, reshapes (Flatten, squeeze), max and average pooling (their adaptive and global
forms when the output size divides the input), ReLU, LeakyReLU, Hardtanh/ReLU6, Sigmoid, Tanh,
ELU, GELU, Softplus, Softmax, LogSoftmax, and elementwise add, multiply, divide and negate
(LogSigmoid, SiLU). BatchNorm1d/2d/3d is converted as a module, into one BatchNormalization.

``register_op`` adds a converter for an op class; ``register_converter`` one for a module type,
whose forward is then not traced. The ``onnx`` package is imported only when ``export`` runs
(``pip install onnx``).
"""
from ember.onnx.converters import CONVERTERS, OP_CONVERTERS, register_converter, register_op
from ember.onnx.export import ExportGraph, OpNode, Value, export

__all__ = ["CONVERTERS", "OP_CONVERTERS", "ExportGraph", "OpNode", "Value", "export", "register_converter",
           "register_op"]
