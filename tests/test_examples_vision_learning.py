"""Fast runs of the one-shot, transfer-learning and multi-task examples: each runs and learns."""

import numpy as np
import pytest

from example_scripts import load_example


@pytest.fixture(scope="module")
def one_shot(tmp_path_factory):
    out = tmp_path_factory.mktemp("one_shot")
    return load_example("one_shot_digits").main(["--steps", "200", "--out", str(out)])


def test_one_shot_verification_learns_on_unseen_digits(one_shot):
    before, after = one_shot["before"], one_shot["after"]
    assert after["verification_accuracy"] >= 0.70 and after["auc"] >= 0.75  # chance: 0.5 and 0.5
    assert after["auc"] > before["auc"] + 0.05  # earned by training, not by the architecture
    assert after["one_shot_accuracy"] > 0.6  # chance: 1/3
    losses = one_shot["losses"]
    assert np.mean(losses[-20:]) < np.mean(losses[:20])


def test_one_shot_writes_the_roc_curve(one_shot):
    assert one_shot["roc_path"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_orientation_classes_are_new_identities():
    demo = load_example("one_shot_digits")
    images = np.arange(2 * 64, dtype=np.float32).reshape(2, 1, 8, 8)
    views, labels = demo.orientation_classes(images, np.array([0, 3]))
    assert views.shape == (16, 1, 8, 8) and sorted(labels.tolist()) == list(range(8)) + list(range(24, 32))
    assert len({v.tobytes() for v in views}) == 16


@pytest.fixture(scope="module")
def transfer():
    return load_example("transfer_learning")


def test_transfer_learning_freezes_the_body_and_trains_a_new_head(transfer):
    import ember as em

    em.manual_seed(0)
    body_state = {k: v.numpy().copy() for k, v in transfer.conv_body().state_dict().items()}
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 1, 48, 48), dtype=np.float32), np.repeat(np.arange(5), 2)
    args = transfer.parse(["--steps", "5"])
    frozen = transfer.train_variant("frozen", body_state, x, y, 1e-2, args, rng)
    assert all(not p.requires_grad and p.grad is None for p in frozen.features.parameters())
    assert all(np.array_equal(v.numpy(), body_state[k]) for k, v in frozen.features.state_dict().items())
    assert [m.out_features for m in frozen.classifier if hasattr(m, "out_features")] == [5]
    assert all(p.requires_grad and p.grad is not None for p in frozen.classifier.parameters())
    tuned = transfer.train_variant("fine_tune_all", body_state, x, y, 1e-2, args, rng)
    assert not all(np.array_equal(v.numpy(), body_state[k]) for k, v in tuned.features.state_dict().items())


def test_transfer_learning_canvases_hold_each_digit_whole_at_its_own_spot(transfer):
    rng = np.random.default_rng(0)
    digits = rng.uniform(0.5, 1.0, (6, 1, 16, 16)).astype(np.float32)
    bare = transfer.cluttered(digits, digits, rng, size=48, fragments=0, noise=0.0)
    assert bare.shape == (6, 1, 48, 48) and bare.dtype == np.float32
    spots = []
    for canvas, digit in zip(bare[:, 0], digits[:, 0], strict=True):  # loops fine in a test: a plain reference
        r, c = np.argwhere(canvas > 0).min(axis=0)
        assert np.array_equal(canvas[r:r + 16, c:c + 16], digit) and (canvas > 0).sum() == 16 * 16
        spots.append((r, c))
    assert len(set(spots)) > 1  # each image gets its own position
    busy = transfer.cluttered(digits, digits, np.random.default_rng(1), size=48, fragments=4, noise=0.0)
    assert ((busy[:, 0] > 0).sum(axis=(1, 2)) > 16 * 16).all()  # clutter adds ink beside the digit


def test_transfer_learning_frozen_body_beats_scratch_on_one_image_per_digit(transfer, capsys):
    result = transfer.main(["--pretrain-steps", "150", "--steps", "40", "--shots", "1", "--seeds", "2",
                            "--lrs", "3e-3", "3e-2"])
    assert result["source_accuracy"] > 0.65  # chance: 0.2; 0.717–0.900 over --seed 0–9
    scores = {method: np.mean(row["test"]) for method, row in result["table"][1].items()}
    # The same architecture from scratch learns next to nothing from 5 cluttered canvases
    # (0.173–0.263 over --seed 0–9); the pre-trained body gains +0.073..+0.201 frozen and
    # +0.075..+0.198 fine-tuned over --seed 0–9.
    assert scores["frozen"] > scores["scratch"] + 0.04 and scores["fine_tune_all"] > scores["scratch"] + 0.04
    assert scores["frozen"] > 0.26
    assert "from scratch" in capsys.readouterr().out


def test_multitask_masked_loss_beats_dropping_incomplete_rows():
    result = load_example("multitask").main(["--steps", "100"])
    assert 0.45 < result["labelled_fraction"] < 0.55
    masked, dropped = result["masked"], result["complete_rows_only"]
    assert min(masked.values()) > 0.85  # chance: about 0.5–0.6 per task
    assert np.mean(list(masked.values())) > np.mean(list(dropped.values())) + 0.02
