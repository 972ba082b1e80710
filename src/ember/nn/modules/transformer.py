"""PyTorch's ``torch.nn.modules.transformer``: ember has no Transformer layers yet, so nothing is here."""
__all__ = []
