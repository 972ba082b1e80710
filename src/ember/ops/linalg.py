"""Matrix products: batched ``matmul`` and the fused affine map of ``Linear``."""
from __future__ import annotations

from ember.autograd.function import Function
from ember.ops.broadcast import reduce_to, sum_to


def _check_matmul(name, x, y):
    if x.dtype != y.dtype:
        raise TypeError(f"{name}: expected operands of one dtype, got {x.dtype} and {y.dtype}")
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{name}: both operands need at least 1 dimension, got shapes {x.shape} and {y.shape}")
    inner_y = y.shape[0] if y.ndim == 1 else y.shape[-2]
    if x.shape[-1] != inner_y:
        raise ValueError(f"{name}: shapes {x.shape} and {y.shape} cannot be multiplied ({x.shape[-1]} != {inner_y})")


class MatMul(Function):
    def forward(self, x, y):
        _check_matmul("matmul", x, y)
        # promote vectors to matrices (as NumPy does) so one backward serves every case
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        self.save_for_backward(x2, y2)
        self.shapes = x.shape, y.shape
        z = x2 @ y2
        self.z_shape = z.shape
        return x @ y

    def backward(self, gz):
        x, y = self.saved
        gz = gz.reshape(self.z_shape)
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = sum_to(gz @ y.swapaxes(-1, -2), x.shape).reshape(self.shapes[0])  # dX = dZ Yᵀ
        if self.needs_input_grad[1]:
            gy = sum_to(x.swapaxes(-1, -2) @ gz, y.shape).reshape(self.shapes[1])  # dY = Xᵀ dZ
        return gx, gy

    def vjp(self, gz):
        x, y = self.inputs
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        gz = gz.reshape(self.z_shape)
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = reduce_to(matmul(gz, y2.mT), x2.shape).reshape(x.shape)  # dX = dZ Yᵀ
        if self.needs_input_grad[1]:
            gy = reduce_to(matmul(x2.mT, gz), y2.shape).reshape(y.shape)  # dY = Xᵀ dZ
        return gx, gy


def matmul(x, y):
    """Matrix product with NumPy/PyTorch semantics: vectors, matrices and batched stacks."""
    return MatMul()(x, y)


class Linear(Function):
    # NOTE: fused x Wᵀ + b: one GEMM forward, two backward, and no transposed copy of W
    # in the graph — the hot path of every MLP.
    def forward(self, x, W, b=None):
        _check_matmul("linear", x, W.T)
        self.save_for_backward(x, W)
        y = x @ W.T
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, W = self.saved
        gx = gy @ W if self.needs_input_grad[0] else None  # dx = dy W
        gW = gb = None
        if self.needs_input_grad[1]:
            gW = gy.reshape(-1, gy.shape[-1]).T @ x.reshape(-1, x.shape[-1])  # dW = dyᵀ x
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.reshape(-1, gy.shape[-1]).sum(axis=0)  # db = Σ_batch dy
        return gx, gW, gb

    def vjp(self, gy):
        x, W = self.inputs[:2]
        gy2 = gy.reshape(-1, gy.shape[-1])
        gx = matmul(gy, W) if self.needs_input_grad[0] else None
        gW = matmul(gy2.T, x.reshape(-1, x.shape[-1])) if self.needs_input_grad[1] else None
        gb = gy2.sum(axis=0) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return gx, gW, gb


def linear(x, weight, bias=None):
    """y = x Wᵀ + b, for x of shape (*, in_features) and W of shape (out_features, in_features)."""
    if bias is None:
        return Linear()(x, weight)
    return Linear()(x, weight, bias)
