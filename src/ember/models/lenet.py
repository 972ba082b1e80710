"""LeNet-5: the first convolutional network trained end to end by backpropagation.

Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), 1998. Two conv → nonlinearity → subsampling stages turn a
32×32 digit into 16 feature maps of 5×5, and three fully connected layers (120, 84, classes)
classify them.
"""
from __future__ import annotations

from ember import nn
from ember.models import register
from ember.nn import functional as F

__all__ = ["LeNet5", "lenet5"]

_FRAME = 32  # LeCun's input frame: 28×28 MNIST digits were centred in 32×32 images

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU,
                "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}
_POOLS = ("max", "avg")


def _check_args(num_classes, in_channels, activation, pool, input_size):
    for arg, value in (("num_classes", num_classes), ("in_channels", in_channels), ("input_size", input_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"LeNet5: {arg} must be a positive integer, got {value!r}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"LeNet5: unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)}")
    if pool not in _POOLS:
        raise ValueError(f"LeNet5: pool must be one of {_POOLS}, got {pool!r}")


@register("lenet5")
class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with a modern default: ReLU and max-pooling.

    ``features``: Conv2d(in_channels, 6, 5) → act → pool 2 → Conv2d(6, 16, 5) → act →
    pool 2; ``classifier``: Linear(16·s·s, 120) → act → Linear(120, 84) → act →
    Linear(84, num_classes), where the input is flattened in between.

    The network sees LeCun's 32×32 frame: a smaller image is zero-padded, centred, up to it
    before the first convolution. A 32×32 input (digits(resize=32)) gets no padding, exactly as
    in the paper; a 28×28 MNIST image gets 2 pixels a side, so the model computes the same as
    the common "Conv2d(1, 6, 5, padding=2)" LeNet on 28×28 and loads its weights; both end in
    16×5×5 feature maps (s = 5). ``input_size`` > 32 enlarges the frame: s = ⌊(input_size − 12)/4⌋.
    ``activation='tanh', pool='avg'`` gives the 1998 flavour (with plain average pooling in
    place of the paper's trainable subsampling, and full C3 connectivity).

    Args:
        num_classes: outputs of the last layer (logits).
        in_channels: image channels (1 for grey digits).
        activation: 'relu' (default), 'tanh', 'sigmoid', 'leaky_relu', 'elu', 'gelu' or 'silu'.
        pool: 'max' (default) or 'avg' (2×2, stride 2).
        input_size: the side of the frame (default and minimum 32); inputs up to it are accepted.

    Input (N, in_channels, H, W) with H, W ≤ frame; output (N, num_classes).
    About 61.7 thousand parameters for one channel and ten classes.

    >>> net = LeNet5()                      # sklearn digits resized to 32×32: digits(resize=32)
    >>> net(em.randn(8, 1, 32, 32)).shape
    (8, 10)
    >>> LeNet5(input_size=28, activation='tanh', pool='avg')(em.randn(8, 1, 28, 28)).shape
    (8, 10)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu", pool: str = "max",
                 input_size: int = _FRAME):
        super().__init__()
        _check_args(num_classes, in_channels, activation, pool, input_size)
        self.num_classes, self.in_channels = num_classes, in_channels
        self.input_size = max(_FRAME, input_size)
        act, Pool = _ACTIVATIONS[activation], nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5), act(), Pool(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), act(), Pool(kernel_size=2, stride=2),
        )
        side = ((self.input_size - 4) // 2 - 4) // 2
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        """Logits (N, num_classes) of images (N, in_channels, H, W), H and W at most the frame side."""
        frame = self.input_size
        if x.ndim != 4 or x.shape[1] != self.in_channels or max(x.shape[2:]) > frame:
            raise ValueError(f"LeNet5(in_channels={self.in_channels}, input_size={frame}): expected input "
                             f"(N, {self.in_channels}, H, W) with H, W <= {frame}, got {tuple(x.shape)}")
        x = self.features(_centre_in_frame(x, frame))
        return self.classifier(x.reshape(x.shape[0], -1))


def _centre_in_frame(x, frame):
    """Zero-pad (N, C, H, W) images, centred, to frame × frame (the extra pixel of an odd margin at the end)."""
    (top, left), (H, W) = ((frame - n) // 2 for n in x.shape[2:]), x.shape[2:]
    if H == W == frame:
        return x
    return F.pad(x, (left, frame - W - left, top, frame - H - top))


def lenet5(**kwargs) -> LeNet5:
    """``LeNet5(**kwargs)``, lower-case like the other zoo constructors.

    >>> lenet5(num_classes=10)(em.randn(2, 1, 32, 32)).shape
    (2, 10)
    """
    return LeNet5(**kwargs)
