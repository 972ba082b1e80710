"""Vanishing and exploding gradients, shown: the gradient reaching each time step of a long sequence.

    python examples/gradient_flow.py [OUT_DIR]          # default runs/gradient_flow/

A loss that reads only the last output h_T of a 100-step sequence is back-propagated through a
vanilla RNN, an LSTM and a GRU (PyTorch's default init), through the gated cells with their
state-keeping gate biased open (forget bias 1), and through an RNN whose W_hh is orthogonal × 2
(exploding). Prints |g_1|/|g_T| per layer, the effect of ``clip_grad_norm_`` on the exploding
RNN, and saves gradient_flow.png. The measurements live in ``ember.viz.gradients``.
"""
import argparse
from pathlib import Path

from ember.viz.gradients import clipping_effect, gradient_flow, plot_gradient_flow, recurrent_layer

SEQ_LEN, BATCH, INPUT, HIDDEN = 100, 16, 8, 32


def layers() -> dict:
    """Label → layer: the three cells at default init, the gated ones with open gates, an exploding RNN."""
    sizes = {"input_size": INPUT, "hidden_size": HIDDEN}
    return {
        "RNN (tanh)": recurrent_layer("rnn", **sizes),
        "LSTM": recurrent_layer("lstm", **sizes),
        "GRU": recurrent_layer("gru", **sizes),
        "LSTM, forget bias 1": recurrent_layer("lstm", forget_bias=1.0, **sizes),
        "GRU, update bias 1": recurrent_layer("gru", forget_bias=1.0, **sizes),
        "RNN (tanh), W_hh orthogonal ×2": recurrent_layer("rnn", hh_gain=2.0, **sizes),
    }


def main(out_dir="runs/gradient_flow", seed: int = 0) -> Path:
    """Measure, print, and write ``OUT_DIR/gradient_flow.png``; returns its path."""
    norms = gradient_flow(layers(), seq_len=SEQ_LEN, batch_size=BATCH, seed=seed)
    print(f"|g_1| / |g_T| over T = {SEQ_LEN} steps (loss on h_T only):")
    for label, g in norms.items():
        print(f"  {label:32s} {g[0] / g[-1]:10.3g}")
    before, after = clipping_effect(recurrent_layer("rnn", INPUT, HIDDEN, hh_gain=2.0), max_norm=1.0,
                                    seq_len=SEQ_LEN, batch_size=BATCH, seed=seed)
    print(f"exploding RNN: parameter-gradient norm {before:.3g} → {after:.3g} after clip_grad_norm_(max_norm=1)")
    path = Path(out_dir) / "gradient_flow.png"
    plot_gradient_flow(norms, path, title=f"Gradient reaching each of {SEQ_LEN} steps (RNN vs LSTM vs GRU)")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="runs/gradient_flow")
    print("saved", main(parser.parse_args().out_dir))
