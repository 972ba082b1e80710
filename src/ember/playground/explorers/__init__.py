"""The back ends of the playground's explorer pages: convolution, embeddings and attention, one module a page.

- ``images``: ``ImageStore``, a grey image (a bundled sample or an upload, at most 256 px a side).
- ``convolution``: ``convolve`` / ``kernel_receptive_field``: the image cross-correlated with a
  kernel from ``ember.vision.filters`` or the extra ones there, or a typed matrix up to 15 × 15,
  and the receptive field of one output pixel (``ember.viz.features.receptive_field`` on that
  one-layer network); ``DigitModel``: LeNet-5 trained on the bundled digits at first use (a few
  seconds; cached), its prediction and the feature maps of every layer for a drawn digit.
- ``embeddings``: ``WordVectors``: word2vec vectors (``--vectors`` file or a tiny set trained at
  first use), a 2-D/3-D PCA of the most frequent words, nearest neighbours and analogies.
- ``attention``: ``DateModel``: the date translator saved by ``ember translate-dates`` (or
  quick-trained here, bounded), its translation of a typed date and the attention weights;
  ``GPTModel``: a small character GPT trained here in the background (~10 s; cached) and the
  self-attention weights of each of its layers and heads over a typed prompt.

Every public method validates its input and raises ``RequestError`` with a message for the page.
The models train through ``ember.train.Trainer``; the playground imports library code only.
"""
from ember.playground.explorers.attention import (
    GPT_SIZES,
    QUICK_DATES,
    DateModel,
    GPTModel,
    gpt_attention_maps,
    gpt_text,
)
from ember.playground.explorers.convolution import (
    KERNELS,
    LENET_LAYERS,
    MAX_KERNEL,
    DigitModel,
    convolve,
    get_kernel,
    kernel_receptive_field,
    prepare_digit,
)
from ember.playground.explorers.embeddings import WordVectors, generated_corpus
from ember.playground.explorers.images import MAX_PIXELS, MAX_SIDE, MAX_UPLOAD_BYTES, ImageStore, decode_image

__all__ = ["GPT_SIZES", "KERNELS", "LENET_LAYERS", "MAX_KERNEL", "MAX_PIXELS", "MAX_SIDE", "MAX_UPLOAD_BYTES",
           "QUICK_DATES", "DateModel", "DigitModel", "GPTModel", "ImageStore", "WordVectors", "convolve",
           "decode_image", "generated_corpus", "get_kernel", "gpt_attention_maps", "gpt_text",
           "kernel_receptive_field", "prepare_digit"]
