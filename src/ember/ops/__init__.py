"""Differentiable primitives, grouped by area; every public function is re-exported here."""
from ember.ops.activation import (
    elu,
    gelu,
    hardtanh,
    identity,
    leaky_relu,
    log_softmax,
    logsumexp,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from ember.ops.arithmetic import add, div, mul, neg, pow, sub
from ember.ops.broadcast import broadcast_to, expand, sum_to
from ember.ops.conv import conv1d, conv2d, conv_transpose2d
from ember.ops.dropout import dropout, dropout2d
from ember.ops.elementwise import (
    abs,
    cast,
    clamp,
    clip,
    clone,
    cos,
    eq,
    exp,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    logical_and,
    logical_not,
    logical_or,
    lt,
    masked_fill,
    maximum,
    minimum,
    ne,
    sign,
    sin,
    sqrt,
    to_device,
    where,
)
from ember.ops.embedding import embedding
from ember.ops.linalg import linear, matmul
from ember.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    negative_sampling_loss,
    nll_loss,
    smooth_l1_loss,
)
from ember.ops.metric_loss import (
    contrastive_loss,
    normalize,
    pairwise_distance,
    pairwise_distances,
    triplet_margin_loss,
)
from ember.ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from ember.ops.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from ember.ops.recurrent import gru_layer, lstm_layer, rnn_layer
from ember.ops.reduction import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from ember.ops.shape import (
    cat,
    chunk,
    concat,
    flatten,
    getitem,
    index_select,
    one_hot,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)

__all__ = [
    "abs", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "add", "amax",
    "amin", "argmax",
    "argmin", "avg_pool1d", "avg_pool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "broadcast_to", "cast", "cat", "chunk", "clamp", "clip", "clone", "concat", "contrastive_loss", "conv1d", "conv2d",
    "conv_transpose2d", "cos", "cross_entropy", "div", "dropout", "dropout2d", "elu", "embedding", "eq", "exp",
    "expand", "flatten", "ge", "gelu", "getitem", "group_norm", "gru_layer", "gt", "hardtanh", "huber_loss", "identity",
    "index_select", "instance_norm", "isfinite", "isnan", "l1_loss", "layer_norm", "le", "leaky_relu", "linear", "log",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logsumexp", "lstm_layer", "lt", "masked_fill", "matmul",
    "max", "max_pool1d", "max_pool2d", "maximum", "mean", "min", "minimum", "mse_loss", "mul", "ne", "neg",
    "negative_sampling_loss", "nll_loss", "normalize", "one_hot", "pad", "pairwise_distance", "pairwise_distances",
    "permute", "pow", "relu", "reshape", "rnn_layer", "sigmoid", "sign", "silu", "sin", "smooth_l1_loss", "softmax",
    "softplus", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "sum_to", "tanh", "to_device", "transpose",
    "triplet_margin_loss", "unsqueeze", "var", "where",
]
