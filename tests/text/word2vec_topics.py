"""A two-topic corpus on which word2vec must pull each topic's words together, and the measure of it."""
import numpy as np

TOPICS = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]


def topic_corpus(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return [list(rng.choice(TOPICS[i % 2], size=10)) for i in range(n)]


def topic_gap(wv):
    """Mean cosine within topics minus mean cosine across them."""
    U = wv.get_normed_vectors()
    A, B = U[[wv.key_to_index[w] for w in TOPICS[0]]], U[[wv.key_to_index[w] for w in TOPICS[1]]]
    within = ((A @ A.T).sum() - len(A) + (B @ B.T).sum() - len(B)) / (2 * len(A) * (len(A) - 1))
    return within - (A @ B.T).mean()
