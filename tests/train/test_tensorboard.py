"""TensorBoardLogger and the TensorBoard helpers: the event files are read back record by record
(TFRecord framing with masked CRC-32C checks, written out here) and their content compared with
what the Trainer computed."""
import io
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorboardX  # noqa: F401 - a test dependency: its absence is a failure, not a skip

import ember as em
from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.text.word2vec import KeyedVectors
from ember.train import Callback, ModelCheckpoint, Trainer
from ember.train.tensorboard import (
    TensorBoardLogger,
    attention_image,
    feature_map_grid,
    filter_grid,
    log_attention,
    log_embeddings,
    log_images,
    make_grid,
    summary_writer,
)
from ember.viz import feature_maps

# -- reading event files back ---------------------------------------------------------------------

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1  # CRC-32C (Castagnoli), reflected
    _CRC_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path) -> list[bytes]:
    """TFRecord: uint64 length, masked CRC of the length bytes, the data, masked CRC of the data."""
    raw, records, pos = Path(path).read_bytes(), [], 0
    while pos < len(raw):
        header = raw[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", raw[pos + 8:pos + 12])
        assert header_crc == masked_crc(header), f"corrupt length at byte {pos} of {path}"
        data = raw[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", raw[pos + 12 + length:pos + 16 + length])
        assert len(data) == length and data_crc == masked_crc(data), f"corrupt record at byte {pos} of {path}"
        records.append(data)
        pos += 16 + length
    return records


def read_events(log_dir) -> list:
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for path in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        for record in read_records(path):
            event = Event()
            event.ParseFromString(record)
            events.append(event)
    return events


def summaries(events, kind: str) -> dict:
    """{tag: [(step, value)]} for the summary values of ``kind`` ('simple_value', 'histo', 'image', 'tensor')."""
    out = {}
    for event in events:
        for value in event.summary.value:
            if value.WhichOneof("value") == kind:
                out.setdefault(value.tag, []).append((event.step, getattr(value, kind)))
    return out


def png_pixels(image_summary) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(image_summary.encoded_image_string)).convert("RGB"))


def test_crc32c_known_answer_and_a_corrupt_record_is_caught(tmp_path):
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    with summary_writer(tmp_path) as writer:
        writer.add_scalar("x", 1.5, 3)
    path = next(tmp_path.glob("events.out.tfevents.*"))
    assert len(read_records(path)) == 2  # the file-version event and the scalar
    raw = bytearray(path.read_bytes())
    raw[-6] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(AssertionError, match="corrupt record"):
        read_records(path)


# -- a logged training run ------------------------------------------------------------------------


def small_convnet():
    em.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def image_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 1, (n, 1, 6, 6)) + y[:, None, None, None]
    return x.astype(np.float32), y.astype(np.int64)


class Recorder(Callback):
    """What the logger should have written: batch logs, the last batch's gradients and the epoch's weights."""

    def __init__(self):
        self.batches, self.grads, self.weights = [], [], []

    def on_before_step(self, trainer):
        self._grads = {n: p.grad.numpy().copy() for n, p in trainer.model.named_parameters()}

    def on_batch_end(self, trainer, batch, logs):
        self.batches.append((trainer.global_step, dict(logs)))

    def on_epoch_end(self, trainer, epoch, logs):
        self.grads.append(self._grads)
        self.weights.append({n: p.detach().numpy().copy() for n, p in trainer.model.named_parameters()})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("runs") / "convnet"
    x, y = image_data()
    model, recorder, samples = small_convnet(), Recorder(), []
    fixed = x[:2]

    def sample(m):
        samples.append(f"w[0] = {float(m[0].weight.detach().numpy().flat[0]):.6f}\n  *indented* line")
        return samples[-1]

    logger = TensorBoardLogger(log_dir, images={"conv/filters": lambda m: filter_grid(m[0]),
                                                "conv/maps": lambda m: feature_map_grid(m, "0", fixed)},
                               text_samples=sample, graph_input=fixed)
    train = DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8, shuffle=True, seed=0)
    dev = DataLoader(TensorDataset(x[32:], y[32:]), batch_size=8)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.05), nn.CrossEntropyLoss(),
                      callbacks=[logger, recorder])
    history = trainer.fit(train, dev, epochs=2)
    return {"events": read_events(log_dir), "history": history, "recorder": recorder, "samples": samples,
            "model": model, "fixed": fixed, "logger": logger, "log_dir": log_dir}


def test_epoch_scalars_equal_the_history(run):
    scalars, history = summaries(run["events"], "simple_value"), run["history"]
    assert set(history.keys()) == {"epoch", "loss", "accuracy", "dev_loss", "dev_accuracy", "lr", "time"}
    for key in history.keys():
        steps, values = zip(*scalars[key], strict=True)
        assert steps == (4, 8), key  # 4 batches per epoch: stamped with the global step
        np.testing.assert_allclose(values, history[key], rtol=1e-6, err_msg=key)


def test_batch_scalars_equal_each_step_logs(run):
    scalars, batches = summaries(run["events"], "simple_value"), run["recorder"].batches
    assert len(batches) == 8
    for name in ("loss", "accuracy"):
        assert [s for s, _ in scalars[f"batch/{name}"]] == [step for step, _ in batches]
        np.testing.assert_allclose([v for _, v in scalars[f"batch/{name}"]], [logs[name] for _, logs in batches],
                                   rtol=1e-6)


def check_histogram(histo, values):
    assert sum(histo.bucket) == histo.num == values.size
    assert len(histo.bucket) == len(histo.bucket_limit)
    values = values.astype(np.float64)
    np.testing.assert_allclose([histo.min, histo.max, histo.sum], [values.min(), values.max(), values.sum()],
                               rtol=1e-9, atol=1e-12)


def test_histograms_of_every_parameter_and_gradient(run):
    histos, recorder = summaries(run["events"], "histo"), run["recorder"]
    names = [n for n, _ in run["model"].named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert set(histos) == {f"{kind}/{n}" for kind in ("parameters", "gradients") for n in names}
    for epoch, step in enumerate((4, 8)):
        for n in names:
            (got_step, histo), = [h for h in histos[f"parameters/{n}"] if h[0] == step]
            check_histogram(histo, recorder.weights[epoch][n])
            (_, histo), = [h for h in histos[f"gradients/{n}"] if h[0] == step]
            check_histogram(histo, recorder.grads[epoch][n])  # the epoch's last batch


def test_images_are_the_filter_and_feature_map_grids(run):
    images, recorder = summaries(run["events"], "image"), run["recorder"]
    assert set(images) == {"conv/filters", "conv/maps"}
    assert [s for s, _ in images["conv/filters"]] == [4, 8]
    for epoch, (_, image) in enumerate(images["conv/filters"]):
        expected = filter_grid(recorder.weights[epoch]["0.weight"])  # 4 grey tiles of 3·10 px in one row
        assert expected.shape == (1, 1 * 31 + 1, 4 * 31 + 1) and (image.height, image.width) == expected.shape[1:]
        np.testing.assert_array_equal(png_pixels(image)[..., 0], (expected[0] * 255).astype(np.uint8))
    _, maps = images["conv/maps"][-1]
    expected = feature_map_grid(run["model"], "0", run["fixed"])  # 4 maps of 6·5 px
    assert (maps.height, maps.width) == expected.shape[1:] == (32, 4 * 31 + 1)
    np.testing.assert_array_equal(png_pixels(maps)[..., 1], (expected[0] * 255).astype(np.uint8))


def test_text_samples_and_graph(run):
    texts = summaries(run["events"], "tensor")
    assert set(texts) == {"sample/text_summary", "graph/text_summary"}
    logged = [(s, t.string_val[0].decode()) for s, t in texts["sample/text_summary"]]
    assert [s for s, _ in logged] == [4, 8] and len(run["samples"]) == 2
    for (_, text), sample in zip(logged, run["samples"], strict=True):
        assert sample in text and text.startswith("```")
    (step, graph), = texts["graph/text_summary"]
    dot = graph.string_val[0].decode()
    assert step == 0 and "digraph ember" in dot and "0.weight" in dot and "3.bias" in dot and "Conv2d" in dot


def test_event_files_are_closed_after_training(run):
    assert run["logger"]._writer is None
    files = list(run["log_dir"].glob("events.out.tfevents.*"))
    assert len(files) == 1


def test_histogram_every_and_batch_every(tmp_path):
    x, y = image_data(24)
    model = small_convnet()
    logger = TensorBoardLogger(tmp_path, histogram_every=2, batch_every=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    Trainer(model, optim.SGD(model.parameters(), lr=0.05), nn.CrossEntropyLoss(),
            callbacks=[logger]).fit(loader, epochs=3)
    events = read_events(tmp_path)
    histos, scalars = summaries(events, "histo"), summaries(events, "simple_value")
    assert {s for h in histos.values() for s, _ in h} == {6}  # epoch 2 of 3, after 6 steps
    assert len(histos) == 8 and not any(tag.startswith("batch/") for tag in scalars)
    assert [s for s, _ in scalars["loss"]] == [3, 6, 9]


def test_a_resumed_run_purges_the_interrupted_runs_later_events(tmp_path):
    x, y = image_data(16)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    ckpt = ModelCheckpoint(tmp_path / "ckpt", monitor="loss")

    def trainer():
        model = small_convnet()
        return Trainer(model, optim.SGD(model.parameters(), lr=0.05), nn.CrossEntropyLoss(),
                       callbacks=[TensorBoardLogger(tmp_path / "tb"), ckpt])

    trainer().fit(loader, epochs=1)
    trainer().fit(loader, epochs=2, resume_from=ckpt.last_path)
    starts = [e.step for e in read_events(tmp_path / "tb") if e.HasField("session_log")]
    assert starts == [2]  # TensorBoard drops the older events from step 2 on


# -- the helpers ----------------------------------------------------------------------------------


def grid_reference(batch, nrow, padding, pad_value):
    """torchvision's make_grid layout, tile by tile."""
    B, C, H, W = batch.shape
    cols = min(nrow, B)
    rows = -(-B // cols)
    grid = np.full((C, rows * (H + padding) + padding, cols * (W + padding) + padding), pad_value)
    for k in range(B):
        r, c = divmod(k, cols)
        top, left = r * (H + padding) + padding, c * (W + padding) + padding
        grid[:, top:top + H, left:left + W] = batch[k]
    return grid


@pytest.mark.parametrize("B, nrow, padding", [(5, 4, 1), (8, 8, 2), (3, 8, 0), (7, 3, 3)])
def test_make_grid_layout(B, nrow, padding):
    batch = np.random.default_rng(B).random((B, 2, 4, 5))
    np.testing.assert_array_equal(make_grid(batch, nrow, padding, pad_value=0.5),
                                  grid_reference(batch, nrow, padding, 0.5))


def test_make_grid_normalize():
    batch = np.stack([np.full((1, 2, 2), 2.0), np.full((1, 2, 2), 4.0)])
    batch[0, 0, 0, 0], batch[1, 0, 0, 0] = 0.0, 10.0
    whole = make_grid(batch, padding=0, normalize=True)
    np.testing.assert_allclose(whole[0, :2, :2], [[0.0, 0.2], [0.2, 0.2]])
    each = make_grid(batch, padding=0, normalize=True, scale_each=True)
    np.testing.assert_allclose(each[0, :2, :2], [[0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(each[0, :2, 2:], [[1.0, 0.0], [0.0, 0.0]])
    fixed = make_grid(batch, padding=0, normalize=True, value_range=(0.0, 4.0))
    assert fixed.max() == 1.0 and fixed[0, 0, 1] == 0.5
    with pytest.raises(ValueError, match="make_grid"):
        make_grid(np.zeros((2, 3)))


def test_filter_grid_rgb_and_mean_tiles():
    rng = np.random.default_rng(0)
    rgb = rng.normal(size=(5, 3, 3, 3))
    grid = filter_grid(rgb, nrow=5, padding=1, scale=1)
    tiles = [grid[:, 1:4, 1 + 4 * k:4 + 4 * k] for k in range(5)]
    for k, tile in enumerate(tiles):
        w = rgb[k]
        np.testing.assert_allclose(tile, (w - w.min()) / (w.max() - w.min()), rtol=1e-6)
    deep = rng.normal(size=(2, 4, 3, 3))
    grey = filter_grid(deep, padding=0, scale=2)
    assert grey.shape == (1, 6, 12)
    mean = deep[1].mean(axis=0).repeat(2, 0).repeat(2, 1)
    np.testing.assert_allclose(grey[0, :, 6:], (mean - mean.min()) / (mean.max() - mean.min()), rtol=1e-6)
    assert filter_grid(nn.Conv1d(2, 3, 4), padding=0, scale=1).shape == (1, 1, 12)
    with pytest.raises(ValueError, match="filter_grid"):
        filter_grid(np.zeros((3, 4)))


def test_feature_map_grid_tiles_each_normalised_map():
    model = small_convnet()
    x = image_data(3)[0]
    grid = feature_map_grid(model, "0", x, index=2, padding=0, scale=1)
    maps = feature_maps(model, "0", x).numpy()[2]
    assert grid.shape == (1, 6, 24)
    for c in range(4):
        m = maps[c]
        np.testing.assert_allclose(grid[0, :, 6 * c:6 * c + 6], (m - m.min()) / (m.max() - m.min()), rtol=1e-5,
                                   atol=1e-6)
    with pytest.raises(ValueError, match="feature_map_grid"):
        feature_map_grid(model, "3", x)


def test_log_images_to_a_directory(tmp_path):
    rgb = np.random.default_rng(1).random((3, 5, 7))
    log_images(tmp_path, {"rgb": rgb, "grey": np.full((4, 6), 2.0), "batch": np.zeros((3, 1, 2, 2))}, step=7)
    images = summaries(read_events(tmp_path), "image")
    (step, image), = images["rgb"]
    assert step == 7 and (image.height, image.width) == (5, 7)
    np.testing.assert_array_equal(png_pixels(image), (rgb.transpose(1, 2, 0) * 255).astype(np.uint8))
    assert (png_pixels(images["grey"][0][1]) == 255).all()  # out-of-range floats are clipped, not wrapped
    assert (images["batch"][0][1].height, images["batch"][0][1].width) == (6, 14)
    with pytest.raises(ValueError, match="log_images"):
        log_images(tmp_path, {"bad": np.zeros((5, 4, 4))})
    with pytest.raises(TypeError, match="log_images"):
        log_images(42, {})


def test_attention_heat_map_is_logged(tmp_path):
    inputs, outputs = list("25 Dec"), ["2", "0", "<eos>"]
    one_hot = np.eye(3, 6)
    image = log_attention(tmp_path, one_hot, inputs, outputs, step=3, tag="attention/example")
    (step, logged), = summaries(read_events(tmp_path), "image")["attention/example"]
    assert step == 3 and image.dtype == np.uint8 and (logged.height, logged.width) == image.shape[1:]
    assert image.shape == (3, 250, 300)  # the 3 × 2.5 inch minimum at 100 dpi
    np.testing.assert_array_equal(png_pixels(logged), image.transpose(1, 2, 0))
    yellow = np.array([253, 231, 37])  # viridis at weight 1
    near = lambda im: (np.abs(im.transpose(1, 2, 0).astype(int) - yellow).max(axis=-1) <= 2).sum()  # noqa: E731
    assert near(image) > 100 and near(attention_image(np.full((3, 6), 0.5), inputs, outputs)) == 0
    assert attention_image(np.zeros((12, 20))).shape == (3, 460, 720)
    with pytest.raises(ValueError, match="2 output tokens"):
        attention_image(one_hot, inputs, outputs[:2])
    with pytest.raises(ValueError, match="T_out, T_in"):
        attention_image(np.zeros((2, 3, 4)))


def test_embeddings_for_the_projector(tmp_path):
    kv = KeyedVectors(3)
    words = ["king", "queen", "tab\there", "apple"]
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(4, 3)))
    where = log_embeddings(tmp_path, kv, tag="words")
    assert where == tmp_path / "00000" / "words"
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "00000/words/tensors.tsv"' in config and 'metadata_path: "00000/words/metadata.tsv"' in config
    rows = [[float(v) for v in line.split("\t")] for line in (where / "tensors.tsv").read_text().splitlines()]
    np.testing.assert_allclose(rows, kv.vectors, rtol=1e-6)
    assert (where / "metadata.tsv").read_text().splitlines() == ["king", "queen", "tab here", "apple"]
    with pytest.raises(FileExistsError, match="another tag"):
        log_embeddings(tmp_path, kv, tag="words")


def test_embeddings_of_a_layer_with_labels_through_a_logger(tmp_path):
    emb = nn.Embedding(5, 2)
    logger = TensorBoardLogger(tmp_path)
    where = log_embeddings(logger, emb, labels=list("abcde"), tag="chars/embedding", step=3)
    logger.close()
    assert where == tmp_path / "00003" / "chars%2fembedding"
    rows = np.loadtxt(where / "tensors.tsv", delimiter="\t")
    np.testing.assert_allclose(rows, emb.weight.detach().numpy(), rtol=1e-6)
    assert (where / "metadata.tsv").read_text().split() == list("abcde")
    with pytest.raises(ValueError, match="3 labels for 5 vectors"):
        log_embeddings(tmp_path, emb.weight, labels=list("abc"))


def test_nonfinite_gradient_values_are_left_out_of_the_histogram(tmp_path):
    from ember.train.tensorboard import _add_histogram

    with summary_writer(tmp_path) as writer:
        _add_histogram(writer, "g", np.array([1.0, np.nan, 2.0, np.inf]), 1)
        _add_histogram(writer, "nothing", np.array([np.nan]), 1)
    histos = summaries(read_events(tmp_path), "histo")
    assert list(histos) == ["g"] and histos["g"][0][1].num == 2


def test_argument_errors_and_missing_extra(monkeypatch):
    with pytest.raises(ValueError, match="histogram_every"):
        TensorBoardLogger("runs/x", histogram_every=-1)
    with pytest.raises(TypeError, match="images must be a callable"):
        TensorBoardLogger("runs/x", images=[1, 2])
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'ember\[tensorboard\]'"):
        TensorBoardLogger("runs/x")


def test_logging_does_not_import_torch(tmp_path):
    code = ("import sys; from ember.train.tensorboard import summary_writer; "
            f"w = summary_writer({str(tmp_path)!r}); w.add_scalar('x', 1.0, 0); w.close(); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert summaries(read_events(tmp_path), "simple_value") == {"x": [(0, 1.0)]}


def test_log_text_is_verbatim(tmp_path):
    from ember.train.tensorboard import log_text

    log_text(tmp_path, "a *b*\n  c", tag="sample", step=5)
    (step, text), = summaries(read_events(tmp_path), "tensor")["sample/text_summary"]
    assert step == 5 and text.string_val[0].decode() == "```\na *b*\n  c\n```"


def test_graph_of_a_model_returning_a_tuple():
    from ember.models.text import CharLM

    em.manual_seed(0)
    logger = TensorBoardLogger("unused", graph_input=np.zeros((1, 4), dtype=np.int64))
    dot = logger._graph_text(CharLM(10, embed_dim=4, hidden_size=8, cell="gru"))
    assert dot.startswith("digraph ember") and "embedding.weight" in dot and "decoder.bias" in dot


def test_the_example_writes_runs_for_tensorboard(tmp_path):
    from example_scripts import load_example

    demo = load_example("tensorboard_demo")
    history = demo.digits_run(tmp_path / "digits", epochs=1)
    demo.char_lm_run(tmp_path / "charlm", epochs=2)
    digits_events, lm_events = read_events(tmp_path / "digits"), read_events(tmp_path / "charlm")
    assert summaries(digits_events, "simple_value")["dev_accuracy"][0][1] == pytest.approx(history["dev_accuracy"][0])
    assert {"conv1/filters", "conv1/feature_maps", "input"} == set(summaries(digits_events, "image"))
    assert "graph/text_summary" in summaries(digits_events, "tensor")
    assert len(summaries(lm_events, "tensor")["sample/text_summary"]) == 2
    assert "attention/embedding_self_attention" in summaries(lm_events, "image")
    assert (tmp_path / "charlm" / "00000" / "char_embedding" / "metadata.tsv").exists()
