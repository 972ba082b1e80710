import numpy as np
import pytest
from word2vec_topics import topic_corpus, topic_gap

from ember.text.word2vec import AliasSampler, KeyedVectors, Word2Vec, keep_probability, linear_alpha


@pytest.mark.parametrize("sg", [0, 1])
@pytest.mark.parametrize("negative", [5, 0])
def test_topics_pull_together(sg, negative):
    model = Word2Vec(topic_corpus(), vector_size=16, window=3, min_count=1, sample=0, sg=sg, negative=negative,
                     epochs=10, seed=3, batch_words=500, alpha=0.05, workers=1)
    assert topic_gap(model.wv) > 0.3
    top = [w for w, _ in model.wv.most_similar("a0", topn=5)]
    assert all(w.startswith("a") for w in top) and "a0" not in top


def test_cbow_sum_and_loss_falls():
    corpus = topic_corpus()
    model = Word2Vec(vector_size=16, window=3, min_count=1, sample=0, sg=0, cbow_mean=0, seed=0, compute_loss=True,
                     batch_words=200, workers=1)
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=1)
    first = model.get_latest_training_loss()
    model.train(corpus, total_examples=len(corpus), epochs=1)
    assert model.get_latest_training_loss() < first
    model.train(corpus, total_examples=len(corpus), epochs=10, start_alpha=0.05)
    assert topic_gap(model.wv) > 0.1  # untrained: about 0


def fixed_kv():
    kv = KeyedVectors(3)
    kv.add_vectors(["man", "woman", "king", "queen", "apple", "Paris"],
                   [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, -1, 0.2], [-1, 0, 0]])
    return kv


@pytest.mark.parametrize("sg", [0, 1])
def test_worker_processes_train_shared_vectors(sg):
    """workers=2 trains in two forked processes whose updates all land in the returned vectors.

    gensim's default rate: with 16 words both processes' stale updates land on every row, which
    doubles the step; at alpha=0.05 skip-gram's gap ranged 0.07-1.5 over 12 runs (timing decides),
    at 0.025 it stays within 0.51-0.59 (16 runs)."""
    model = Word2Vec(topic_corpus(), vector_size=16, window=3, min_count=1, sample=0, sg=sg, epochs=10, seed=3,
                     batch_words=500, alpha=0.025, workers=2, compute_loss=True)
    assert topic_gap(model.wv) > 0.3
    assert model.get_latest_training_loss() > 0  # summed over both workers
    assert len(model.alpha_schedule) == 10 * -(-3000 // 250)  # batches of batch_words / workers
    untrained = Word2Vec(vector_size=16, min_count=1, seed=3, workers=2)
    untrained.build_vocab(topic_corpus())
    assert not np.shares_memory(model.wv.vectors, untrained.wv.vectors)
    assert np.abs(model.wv.vectors - untrained.wv.vectors).min() > 0  # every row moved


def test_most_similar_single_list_negative():
    kv = fixed_kv()
    U = kv.get_normed_vectors()
    sims = U @ U[kv.key_to_index["king"]]
    expected = [kv.index_to_key[i] for i in np.argsort(-sims) if kv.index_to_key[i] != "king"][:3]
    assert [w for w, _ in kv.most_similar("king", topn=3)] == expected
    assert kv.most_similar(["king"], topn=3) == kv.most_similar("king", topn=3)
    best, score = kv.most_similar(positive=["woman", "king"], negative=["man"], topn=1)[0]
    assert best == "queen"
    q = U[1] + U[2] - U[0]
    assert score == pytest.approx(float(U[3] @ (q / np.linalg.norm(q))), rel=1e-5)
    assert kv.doesnt_match(["man", "woman", "king", "Paris"]) == "Paris"
    with pytest.raises(KeyError, match="nope"):
        kv.most_similar("nope")


def test_similarity_symmetric_cosine():
    kv = fixed_kv()
    assert kv.similarity("king", "queen") == pytest.approx(kv.similarity("queen", "king"))
    assert kv.similarity("man", "woman") == pytest.approx(1 / np.sqrt(2), rel=1e-6)


def test_evaluate_word_analogies(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(": gender\nman woman king queen\nMAN WOMAN KING QUEEN\nman woman king apple\n"
                    "man zebra king queen\n: capitals\nman Paris woman apple\nbroken line\n")
    score, sections = fixed_kv().evaluate_word_analogies(path)
    assert [s["section"] for s in sections] == ["gender", "capitals", "Total accuracy"]
    assert len(sections[0]["correct"]) == 2 and len(sections[0]["incorrect"]) == 1   # the zebra line is OOV
    # man:Paris = woman:? → unit(Paris − man + woman) is closest to queen (cos −0.34), not apple (−0.69)
    assert sections[1]["incorrect"] == [("MAN", "PARIS", "WOMAN", "APPLE")]
    assert score == pytest.approx(2 / 4)
    strict, _ = fixed_kv().evaluate_word_analogies(path, case_insensitive=False)
    assert strict == pytest.approx(1 / 3)  # the upper-case line is OOV when case matters


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trip(tmp_path, binary):
    kv = KeyedVectors(5)
    kv.add_vectors(["zeta", "alpha", "été"], np.random.default_rng(0).normal(size=(3, 5)))
    kv.save_word2vec_format(tmp_path / "v", binary=binary)
    back = KeyedVectors.load_word2vec_format(tmp_path / "v", binary=binary)
    assert back.index_to_key == ["zeta", "alpha", "été"]
    np.testing.assert_array_equal(back.vectors, kv.vectors)  # 9 significant digits round-trip float32
    assert (tmp_path / "v").read_bytes().startswith(b"3 5\n")


def test_reads_hand_written_c_formats(tmp_path):
    v1, v2 = np.array([0.5, -1.25], "<f4"), np.array([3.0, 0.0], "<f4")
    (tmp_path / "c.bin").write_bytes(b"2 2\nthe " + v1.tobytes() + b"\nof " + v2.tobytes() + b"\n")
    (tmp_path / "g.bin").write_bytes(b"2 2\nthe " + v1.tobytes() + b"of " + v2.tobytes())  # gensim: no newline
    (tmp_path / "c.txt").write_text("2 2\nthe 0.500000 -1.250000 \nof 3.000000 0.000000 \n")
    for name, binary in (("c.bin", True), ("g.bin", True), ("c.txt", False)):
        kv = KeyedVectors.load_word2vec_format(tmp_path / name, binary=binary)
        assert kv.index_to_key == ["the", "of"]
        np.testing.assert_array_equal(kv.vectors, [v1, v2])
    lines = (tmp_path / "out.txt")
    kv.save_word2vec_format(lines)
    assert lines.read_text().splitlines()[1] == "the 0.5 -1.25"


def test_keep_probability_formula():
    counts = np.array([5000, 100, 3])
    t = 1e-3 * counts.sum()
    expected = np.minimum(1, (np.sqrt(counts / t) + 1) * t / counts)
    np.testing.assert_allclose(keep_probability(counts, 1e-3), expected)
    assert expected[0] < 0.2 and expected[2] == 1
    np.testing.assert_array_equal(keep_probability(counts, 0), 1)


def test_subsampling_drops_frequent_words():
    corpus = [["the"] * 50 + ["cat", "dog"] for _ in range(40)]
    model = Word2Vec(corpus, vector_size=4, min_count=1, sample=1e-2, epochs=1)
    trained, raw = model.train(corpus, total_examples=40, epochs=1)
    keep_the = keep_probability(model.counts, 1e-2)[model.wv.key_to_index["the"]]
    assert trained == pytest.approx(raw * (50 * keep_the + 2) / 52, rel=0.1)


def test_learning_rate_decays_linearly():
    corpus = topic_corpus(400)
    model = Word2Vec(vector_size=8, min_count=1, sample=0, alpha=0.04, min_alpha=0.001, batch_words=200)
    model.build_vocab(corpus)
    model.train(corpus, total_examples=len(corpus), epochs=3)
    progress, lrs = np.array(model.alpha_schedule).T
    np.testing.assert_allclose(lrs, 0.04 - (0.04 - 0.001) * progress)
    assert np.all(np.diff(lrs) < 0) and lrs[0] == 0.04
    assert progress[-1] > 0.95 and lrs[-1] == pytest.approx(0.001, abs=0.04 * 0.05)
    assert linear_alpha(0.04, 0.001, 1.0) == pytest.approx(0.001)


def test_vocab_order_seed_and_errors():
    corpus = [["b", "a", "a", "c", "c"], ["c", "d"]]
    model = Word2Vec(vector_size=4, min_count=2)
    model.build_vocab(corpus)
    assert model.wv.index_to_key == ["c", "a"]
    runs = [Word2Vec(topic_corpus(50), vector_size=8, min_count=1, seed=7, workers=1).wv.vectors for _ in range(2)]
    np.testing.assert_array_equal(*runs)
    with pytest.raises(NotImplementedError, match="hs=1"):
        Word2Vec(hs=1)
    with pytest.raises(ValueError, match="epochs"):
        model.train(corpus, total_examples=2)
    with pytest.raises(ValueError, match="min_count=9"):
        Word2Vec(corpus, min_count=9)


@pytest.mark.parametrize("binary", [False, True])
def test_files_are_read_and_written_by_gensim(tmp_path, binary):
    """gensim (a test dependency) loads what ember writes, and ember loads what gensim writes."""
    from gensim import models as gensim_models  # a test dependency, as PyTorch is
    sentences = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "ran", "to", "the", "cat"]] * 50
    ours = Word2Vec(sentences, vector_size=16, min_count=1, epochs=2, batch_words=200)
    ours.wv.save_word2vec_format(tmp_path / "ours", binary=binary)
    loaded = gensim_models.KeyedVectors.load_word2vec_format(tmp_path / "ours", binary=binary)
    assert loaded.index_to_key == ours.wv.index_to_key
    np.testing.assert_allclose(loaded.vectors, ours.wv.vectors, rtol=1e-6, atol=1e-6)
    theirs = gensim_models.Word2Vec(sentences, vector_size=16, min_count=1, epochs=1, workers=1)
    theirs.wv.save_word2vec_format(tmp_path / "theirs", binary=binary)
    back = KeyedVectors.load_word2vec_format(tmp_path / "theirs", binary=binary)
    assert back.index_to_key == theirs.wv.index_to_key
    np.testing.assert_allclose(back.vectors, theirs.wv.vectors, rtol=1e-6, atol=1e-6)


def test_alias_sampler_draws_the_distribution():
    """Walker's alias method: each outcome's frequency over 10^6 draws within 4.5 standard errors of
    its probability; an outcome of weight 0 is never drawn; uniforms next to 1 stay in range."""
    weights = np.random.default_rng(0).random(300) ** 4
    weights[[5, 17]] = 0.0
    sampler = AliasSampler(weights)
    n = 1_000_000
    frequency = np.bincount(sampler.draw(np.random.default_rng(1).random(n)), minlength=300) / n
    p = weights / weights.sum()
    assert np.all(np.abs(frequency - p) <= 4.5 * np.sqrt(p * (1 - p) / n) + 1e-12)
    assert frequency[[5, 17]].sum() == 0
    assert sampler.draw(np.array([np.nextafter(1.0, 0.0)]))[0] == sampler.draw(np.array([0.99999999]))[0]
    assert AliasSampler(np.array([3.0])).draw(np.array([0.2, 0.7])).tolist() == [0, 0]
