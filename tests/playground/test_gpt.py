"""The attention page's character GPT through real HTTP: training in the background (a short run), the
cached weights found by a later server, the per-layer, per-head attention maps of a typed prompt (shapes,
rows that are distributions, causal), the maps agreeing with the blocks' own attention, bad inputs
refused with a JSON message, and the page's GPT mode.
"""
import time

import numpy as np
import pytest
from playground_helpers import Client, start_server, stop_server

import ember as em
from ember.autograd.tensor import Tensor
from ember.models.gpt import GPT
from ember.playground.explorers import GPT_SIZES, gpt_attention_maps


def _wait(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("gpt-cache")


@pytest.fixture(scope="module")
def server(cache_dir):
    server = start_server(cache_dir=cache_dir)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url)


@pytest.fixture(scope="module")
def trained(client):
    """The module's server with a GPT trained for 20 steps (under a second)."""
    status, answer = client.call("GET", "/api/gpt")
    assert status == 200 and not answer["ready"] and not answer["training"] and "train" in answer["message"]
    status, answer = client.call("POST", "/api/gpt/attention", {"text": "And God"})
    assert status == 409 and "train" in answer["error"]
    status, answer = client.call("POST", "/api/gpt/train", {"steps": 20})
    assert status == 200 and answer["training"]
    assert client.call("POST", "/api/gpt/train", {"steps": 20})[0] == 409  # one training at a time
    assert _wait(lambda: client.call("GET", "/api/gpt")[1]["ready"], 60), client.call("GET", "/api/gpt")
    return client.call("GET", "/api/gpt")[1]


def test_training_reports_the_vocabulary_and_sizes(trained, cache_dir):
    assert trained["layers"] == GPT_SIZES["n_layer"] and trained["heads"] == GPT_SIZES["n_head"]
    assert trained["block_size"] == GPT_SIZES["block_size"] and "20 steps" in trained["message"]
    assert set("And God said") <= set(trained["vocab"]) and "\n" not in trained["vocab"]
    assert (cache_dir / "gpt-chars.safetensors").is_file() and (cache_dir / "gpt-chars.json").is_file()


def test_attention_maps_are_causal_distributions(client, trained):
    text = "And God said, Let there be light"
    status, result = client.call("POST", "/api/gpt/attention", {"text": text})
    assert status == 200 and result["tokens"] == list(text)
    weights = np.array(result["weights"])
    L, H, T = result["layers"], result["heads"], len(text)
    assert (L, H) == (GPT_SIZES["n_layer"], GPT_SIZES["n_head"]) and weights.shape == (L, H, T, T)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=T * 5e-5)  # each weight rounded to 4 decimals
    assert (weights >= 0).all() and (weights[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0).all()
    assert weights[..., 0, 0].min() == 1.0  # the first character sees only itself
    assert not np.allclose(weights[:, :, -1, :], 1 / T)  # trained heads are not uniform


def test_one_character_and_a_full_block(client, trained):
    status, result = client.call("POST", "/api/gpt/attention", {"text": "A"})
    assert status == 200 and np.array(result["weights"]).shape == (2, 4, 1, 1)
    text = ("And God saw the light, that it was good " * 2)[:GPT_SIZES["block_size"]]
    status, result = client.call("POST", "/api/gpt/attention", {"text": text})
    assert status == 200 and np.array(result["weights"]).shape[-1] == GPT_SIZES["block_size"]


def test_maps_are_the_weights_the_blocks_apply():
    """Mixing each head's values by the maps and projecting gives each block's attention output."""
    em.manual_seed(0)
    model = GPT(20, block_size=16, n_layer=2, n_head=4, n_embd=32).eval()
    idx = Tensor(np.random.default_rng(0).integers(0, 20, (1, 9)))
    maps = gpt_attention_maps(model, idx)
    assert maps.shape == (2, 4, 9, 9)
    with em.no_grad():
        x = model.transformer.wte(idx) + model.transformer.wpe(em.arange(9))
        for block, weights in zip(model.transformer.h, maps, strict=True):
            attn, h = block.attn, block.ln_1(x)
            v = attn.c_attn(h).array[0, :, 2 * 32:].reshape(9, 4, 8).transpose(1, 0, 2)  # (heads, T, E/heads)
            mixed = (weights @ v).transpose(1, 0, 2).reshape(1, 9, 32).astype(np.float32)
            np.testing.assert_allclose(attn.c_proj(Tensor(mixed)).array, attn(h).array, atol=1e-5)
            x = block(x)


@pytest.mark.parametrize(("body", "message"), [
    ({"text": ""}, "'text' must be a string of 1 to"),
    ({}, "missing field 'text'"),
    ({"text": 7}, "'text' must be a string"),
    ({"text": "And", "extra": 1}, "extra"),
    ({"text": "x" * 65}, "at most 64"),
    ({"text": "God ☃ and ~"}, "not in the vocabulary: '~' '☃'"),
])
def test_bad_prompts_get_400_with_a_message(client, trained, body, message):
    status, answer = client.call("POST", "/api/gpt/attention", body)
    assert status == 400 and message in answer["error"], answer


@pytest.mark.parametrize("body", [{"steps": 5}, {"steps": 10 ** 5}, {"steps": "many"}, {"epochs": 3}])
def test_bad_training_requests_get_400(client, body):
    status, answer = client.call("POST", "/api/gpt/train", body)
    assert status == 400 and "gpt/train" in answer["error"], answer


def test_a_later_server_loads_the_cached_gpt(trained, cache_dir, client):
    server = start_server(cache_dir=cache_dir)
    try:
        other = Client(server.url)
        status, answer = other.call("GET", "/api/gpt")
        assert status == 200 and answer["ready"] and "cache" in answer["message"]
        text = {"text": "In the beginning"}
        assert other.call("POST", "/api/gpt/attention", text)[1] == client.call("POST", "/api/gpt/attention", text)[1]
    finally:
        stop_server(server)


def test_the_page_has_the_gpt_mode(client):
    status, page = client.call("GET", "/")
    page = page.decode()
    assert status == 200 and '<option value="gpt">' in page
    for element in ("att-gpt-box", "gpt-text", "gpt-layer", "gpt-head", "gpt-canvas", "gpt-train"):
        assert f'id="{element}"' in page, element
    script = client.call("GET", "/static/app.js")[1].decode()
    assert "/api/gpt/attention" in script and "drawHeatmap($(\"gpt-canvas\")" in script
